"""The outbox and dispatcher against the WeChat sandbox over real HTTP."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.notify.dispatcher import claim
from app.notify.models import DeliveryAttempt, InboxMessage
from tests.notify.helpers import SEND, TEMPLATE, dispatch, enqueue, grant_credit, row

CST = timezone(timedelta(hours=8))
MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=CST)


def inbox_titles(api, who):
    r = api.get(who, "/api/v1/me/messages")
    assert r.status_code == 200
    return [m["title"] for m in r.json["items"]]


def test_enqueued_twice_is_sent_once(api, world, app, wechat_sandbox):
    grant_credit(api, "alice", times=2)
    with frozen(MORNING):
        assert enqueue(app, world.alice, "k1") is True
        assert enqueue(app, world.alice, "k1") is False
        dispatch(app)
        dispatch(app)
    assert len(wechat_sandbox.messages(touser="alice")) == 1
    assert inbox_titles(api, "alice") == ["请按时随访"]
    assert row(app, "k1").status == "sent" and row(app, "k1").wechat_status == "sent"


def test_expired_token_is_refreshed_once_and_the_message_sent(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    with frozen(MORNING):
        enqueue(app, world.alice, "k1")
        dispatch(app)  # fetches a first token and sends
        enqueue(app, world.alice, "k2")
    grant_credit(api, "alice")
    tokens_before = wechat_sandbox.state()["tokens_issued"]
    wechat_sandbox.fault(SEND, errcode=40001)
    with frozen(MORNING):
        dispatch(app)
    assert row(app, "k2").status == "sent"
    assert wechat_sandbox.state()["tokens_issued"] == tokens_before + 1
    assert len(wechat_sandbox.messages(touser="alice")) == 2


def test_user_refused_43101_is_final_and_inbox_keeps_it(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    wechat_sandbox.fault(SEND, errcode=43101)
    with frozen(MORNING):
        enqueue(app, world.alice, "k1")
        dispatch(app)
    with frozen(MORNING + timedelta(days=1)):
        dispatch(app)
    state = row(app, "k1")
    assert state.status == "failed" and state.wechat_status == "refused:43101" and state.attempts == 1
    assert wechat_sandbox.messages(touser="alice") == []
    assert inbox_titles(api, "alice") == ["请按时随访"]


def test_transient_errors_back_off_then_send(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    wechat_sandbox.fault(SEND, errcode=-1)
    wechat_sandbox.fault(SEND, http_status=502)
    wechat_sandbox.fault(SEND, delay_ms=3000)  # longer than the client's 2 s timeout
    clock = MORNING
    with frozen(clock):
        enqueue(app, world.alice, "k1")
        dispatch(app)
    waits = []
    for _ in range(3):
        state = row(app, "k1")
        assert state.status == "pending"
        waits.append(state.next_attempt_at - clock)
        with frozen(clock):  # not due yet: nothing happens
            assert dispatch(app).claimed == 0
        clock = state.next_attempt_at + timedelta(seconds=1)
        with frozen(clock):
            dispatch(app)
    assert row(app, "k1").status == "sent"
    assert all(timedelta(0) < w for w in waits) and waits[2] > waits[0]
    with app.app_context():
        results = db.session.scalars(
            select(DeliveryAttempt.result).where(DeliveryAttempt.channel == "wechat").order_by(DeliveryAttempt.id)
        ).all()
    assert results == ["retry", "retry", "retry", "sent"]
    # the timed-out call may still have reached WeChat (its answer came late): at most 2 copies, never 3
    assert 1 <= len(wechat_sandbox.messages(touser="alice")) <= 2


def test_without_credit_the_inbox_only(api, world, app, wechat_sandbox):
    api.resident_token("alice")  # bound account, but no subscription accepted
    with frozen(MORNING):
        enqueue(app, world.alice, "k1")
        dispatch(app)
    state = row(app, "k1")
    assert state.status == "sent" and state.wechat_status == "no_credit"
    assert wechat_sandbox.messages() == []
    assert inbox_titles(api, "alice") == ["请按时随访"]


def test_credits_are_counted_per_template(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    listed = api.get("alice", "/api/v1/me/subscriptions").json
    assert {"kind": "pipeline_check", "template_id": TEMPLATE.template_id, "title": "随访提醒", "credits": 1} in listed
    with frozen(MORNING):
        enqueue(app, world.alice, "k1")
        enqueue(app, world.alice, "k2")
        dispatch(app)
    assert len(wechat_sandbox.messages(touser="alice")) == 1
    assert sorted([row(app, "k1").wechat_status, row(app, "k2").wechat_status]) == ["no_credit", "sent"]
    after = api.get("alice", "/api/v1/me/subscriptions").json
    assert next(s for s in after if s["kind"] == "pipeline_check")["credits"] == 0
    bad = api.post("alice", "/api/v1/me/subscriptions", json={"accepted": ["not-a-template"]})
    assert bad.status_code == 422 and "accepted" in bad.json["errors"]


def test_quiet_hours_hold_wechat_but_not_the_inbox(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    night = datetime(2026, 11, 25, 22, 30, tzinfo=CST)
    with frozen(night):
        enqueue(app, world.alice, "k1")
        dispatch(app)
    assert inbox_titles(api, "alice") == ["请按时随访"]
    assert wechat_sandbox.messages() == []
    assert row(app, "k1").next_attempt_at == datetime(2026, 11, 26, 8, 0, tzinfo=CST)
    with frozen(datetime(2026, 11, 26, 7, 59, tzinfo=CST)):
        dispatch(app)
    assert wechat_sandbox.messages() == []
    with frozen(datetime(2026, 11, 26, 8, 0, 30, tzinfo=CST)):
        dispatch(app)
    assert len(wechat_sandbox.messages(touser="alice")) == 1
    with app.app_context():  # the inbox message was written once, not again in the morning
        assert db.session.scalar(select(func.count()).select_from(InboxMessage)) == 1


def test_a_dead_dispatchers_rows_are_taken_over_after_the_lease(api, world, app, wechat_sandbox):
    grant_credit(api, "alice", times=3)
    with frozen(MORNING):
        for key in ("k1", "k2", "k3"):
            enqueue(app, world.alice, key)
        with app.app_context():
            assert len(claim(limit=10, lease_seconds=120)) == 3  # claimed, then the worker "dies"
        assert dispatch(app).claimed == 0  # leased rows are not touched by others
    with frozen(MORNING + timedelta(seconds=121)):
        result = dispatch(app)
    assert result.claimed == 3 and result.sent == 3
    assert len(wechat_sandbox.messages(touser="alice")) == 3


def test_inbox_read_marks_and_scope(api, world, app, wechat_sandbox):
    api.resident_token("bob")
    with frozen(MORNING):
        enqueue(app, world.alice, "k1")
        enqueue(app, world.bob, "k2", title="鲍勃的提醒")
        dispatch(app)
    listed = api.get("alice", "/api/v1/me/messages").json
    assert listed["total"] == 1 and listed["unread"] == 1
    message_id = listed["items"][0]["id"]
    assert api.post("bob", f"/api/v1/me/messages/{message_id}/read").status_code == 404
    read = api.post("alice", f"/api/v1/me/messages/{message_id}/read")
    assert read.status_code == 200 and read.json["read_at"]
    assert api.get("alice", "/api/v1/me/messages?unread=true").json["total"] == 0


def test_wechat_down_for_half_an_hour_then_every_reminder_goes_out_once(api, world, app, wechat_sandbox):
    """WeChat unreachable (connection refused) for 30 minutes: reminders wait, none is given up,
    the inbox has each at once; when WeChat is back every reminder is sent exactly once."""
    import socket

    from app.wechat.client import wechat_client

    grant_credit(api, "alice", times=5)
    keys = [f"down{n}" for n in range(5)]
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with app.app_context():
        client = wechat_client()
        real_base = client.base_url
        client.base_url = f"http://127.0.0.1:{closed}"
    try:
        clock = MORNING
        with frozen(clock):
            for key in keys:
                enqueue(app, world.alice, key)
            dispatch(app)
        assert inbox_titles(api, "alice") == ["请按时随访"] * 5  # the inbox does not wait for WeChat
        while clock < MORNING + timedelta(minutes=30):
            clock += timedelta(minutes=1)
            with frozen(clock):
                dispatch(app)
        assert {row(app, key).status for key in keys} == {"pending"}
        assert wechat_sandbox.messages(touser="alice") == []
    finally:
        client.base_url = real_base
    clock = max(row(app, key).next_attempt_at for key in keys) + timedelta(seconds=1)
    with frozen(clock):
        dispatch(app)
    assert {row(app, key).status for key in keys} == {"sent"}
    assert len(wechat_sandbox.messages(touser="alice")) == 5
    assert inbox_titles(api, "alice") == ["请按时随访"] * 5


def test_a_batch_is_sent_concurrently_each_message_once(api, world, app, wechat_sandbox):
    """WeChat answers each send after 1 s: ten reminders one after another would take 10 s."""
    grant_credit(api, "alice", times=10)
    wechat_sandbox.fault(SEND, delay_ms=1000, times=10)
    with frozen(MORNING):
        for n in range(10):
            enqueue(app, world.alice, f"slow:{n}", title=f"第{n}次")
        started = time.monotonic()
        result = dispatch(app)
        seconds = time.monotonic() - started
    assert (result.claimed, result.sent, result.retried, result.failed) == (10, 10, 0, 0)
    assert all(row(app, f"slow:{n}").status == "sent" for n in range(10))
    titles = Counter(m["data"]["thing1"]["value"] for m in wechat_sandbox.messages(touser="alice"))
    assert titles == {f"第{n}次": 1 for n in range(10)}
    assert seconds < 7  # generous: the sends overlapped (not a performance figure)
