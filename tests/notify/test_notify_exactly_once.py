"""Exactly once: a withdrawn reminder is never sent, whatever its inbox copy's state; a row
is sent only by the dispatcher holding its lease; an ambiguous send is repeated at most once.

The deployed layer (tests/deployed) checks the same with real dispatcher processes."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from app.common.time import frozen
from app.extensions import db
from app.notify import services as notify
from app.notify.dispatcher import claim, renew_leases
from tests.notify.helpers import SEND, dispatch, enqueue, grant_credit, row

CST = timezone(timedelta(hours=8))
QUIET_MORNING = datetime(2026, 11, 25, 7, 0, tzinfo=CST)  # quiet hours run 21-8


def _withdraw(app, prefix):
    with app.app_context():
        count = notify.withdraw(prefix)
        db.session.commit()
        return count


def test_a_reminder_waiting_for_the_morning_is_withdrawn_with_its_inbox_copy_written(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    with frozen(QUIET_MORNING):
        enqueue(app, world.alice, "appointment:7:soon")
        dispatch(app)
    waiting = row(app, "appointment:7:soon")
    assert waiting.status == "pending" and waiting.inbox_message_id is not None  # inbox has it, WeChat waits
    with frozen(QUIET_MORNING + timedelta(minutes=30)):
        assert _withdraw(app, "appointment:7:") == 1
    with frozen(QUIET_MORNING + timedelta(hours=1, minutes=5)):
        dispatch(app)
    assert wechat_sandbox.messages(touser="alice") == []
    assert row(app, "appointment:7:soon").status == "skipped"


def test_a_reminder_waiting_for_a_retry_is_withdrawn(api, world, app, wechat_sandbox):
    grant_credit(api, "alice")
    wechat_sandbox.fault(SEND, errcode=-1)  # WeChat busy: retry later
    at = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
    with frozen(at):
        enqueue(app, world.alice, "appointment:8:soon")
        dispatch(app)
    assert row(app, "appointment:8:soon").status == "pending"
    with frozen(at + timedelta(minutes=1)):
        _withdraw(app, "appointment:8:")
    with frozen(at + timedelta(hours=2)):
        dispatch(app)
    assert wechat_sandbox.messages(touser="alice") == []


def test_withdrawing_matches_the_prefix_literally(api, world, app, wechat_sandbox):
    with frozen(QUIET_MORNING):
        enqueue(app, world.alice, "appointment:1:soon")
        enqueue(app, world.alice, "appointmentX1:soon")  # '_' or '%' in a prefix are not wildcards
    assert _withdraw(app, "appointment:1:") == 1
    assert row(app, "appointmentX1:soon").status == "pending"


def test_a_row_claimed_again_after_its_lease_ran_out_is_not_the_first_holders(api, world, app):
    at = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
    with frozen(at):
        enqueue(app, world.alice, "k1")
        with app.app_context():
            [row_id] = claim(limit=10, lease_seconds=30, token="first")
    with frozen(at + timedelta(seconds=31)), app.app_context():
        assert claim(limit=10, lease_seconds=30, token="second") == [row_id]
        assert renew_leases([row_id], "first", 30) == set()
        assert renew_leases([row_id], "second", 30) == {row_id}


def test_a_withdrawn_row_in_a_dispatchers_hands_is_not_sent(api, world, app):
    at = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
    with frozen(at):
        enqueue(app, world.alice, "appointment:9:soon")
        with app.app_context():
            [row_id] = claim(limit=10, lease_seconds=30, token="holder")
        _withdraw(app, "appointment:9:")
        with app.app_context():
            assert renew_leases([row_id], "holder", 30) == set()


def test_a_send_whose_answer_was_lost_is_repeated_at_most_once(api, world, app, wechat_sandbox):
    """WeChat took the message but answered after our timeout (2 s in tests), twice."""
    grant_credit(api, "alice")
    wechat_sandbox.fault(SEND, delay_ms=2600, times=5)
    at = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
    with frozen(at):
        enqueue(app, world.alice, "k1")
        dispatch(app)
    assert row(app, "k1").status == "pending"  # one resend allowed
    with frozen(at + timedelta(hours=1)):
        dispatch(app)
    with frozen(at + timedelta(hours=3)):
        dispatch(app)
    final = row(app, "k1")
    assert final.status == "failed" and final.wechat_status == "unconfirmed"
    time.sleep(1.5)  # the sandbox records the last copy when its delay ends, after our timeout
    assert len(wechat_sandbox.messages(touser="alice")) == 2  # never a third copy
