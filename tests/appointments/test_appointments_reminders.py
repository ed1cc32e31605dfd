"""Appointment reminders through the notification pipeline: the day before at a civil hour and
two hours before, each sent exactly once at its time (clock frozen, dispatcher drained, WeChat
sandbox and inbox checked), withdrawn when the appointment goes; the team's list for tomorrow."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.common.time import freeze, frozen
from app.extensions import db
from app.notify.models import Outbox
from app.scheduler.jobs import by_id
from app.scheduler.runner import run_job
from tests.appointments.helpers import NOW, booked, cst, dispatch_at, inbox, outbox, publish

DAY_BEFORE_TEMPLATE = "tmpl-appointment_day_before"
SOON_TEMPLATE = "tmpl-appointment_soon"
UTC_OFFSET = timedelta(hours=8)


def allow(api, who, *templates):
    r = api.post(who, "/api/v1/me/subscriptions", json={"accepted": list(templates)})
    assert r.status_code == 200, r.json


def test_reminders_go_out_once_each_at_their_time(api, world, app, wechat_sandbox):
    freeze(NOW)
    start = cst(2025, 9, 23, 14)
    slot = publish(api, "a-doc", world.team_a, "consultation", start)
    allow(api, "alice", DAY_BEFORE_TEMPLATE, SOON_TEMPLATE)
    made = booked(api, "alice", slot["id"])
    assert [(key, kind, status, not_before.isoformat()) for key, kind, _rk, _r, status, not_before in outbox(app)] == [
        (f"appointment:{made['id']}:day_before", "appointment_day_before", "pending", "2025-09-22T10:00:00+00:00"),
        (f"appointment:{made['id']}:soon", "appointment_soon", "pending", "2025-09-23T04:00:00+00:00"),
    ]
    freeze(None)

    assert dispatch_at(app, cst(2025, 9, 22, 17, 59)).claimed == 0
    assert wechat_sandbox.messages(touser="alice") == []
    dispatch_at(app, cst(2025, 9, 22, 18, 0))
    dispatch_at(app, cst(2025, 9, 22, 18, 30))
    sent = wechat_sandbox.messages(touser="alice")
    assert [(m["template_id"], m["data"]) for m in sent] == [
        (
            DAY_BEFORE_TEMPLATE,
            {
                "thing1": {"value": "健康咨询"},
                "time2": {"value": "2025-09-23 14:00"},
                "thing3": {"value": "鲸园社区卫生服务中心鲸园一队"},
                "name4": {"value": "张丽"},
            },
        )
    ]
    assert sent[0]["page"] == f"pages/appointments/detail?id={made['id']}"

    assert dispatch_at(app, cst(2025, 9, 23, 11, 59)).claimed == 0
    dispatch_at(app, cst(2025, 9, 23, 12, 0))
    dispatch_at(app, cst(2025, 9, 23, 13, 0))
    dispatch_at(app, cst(2025, 9, 24, 9, 0))
    assert [m["template_id"] for m in wechat_sandbox.messages(touser="alice")] == [DAY_BEFORE_TEMPLATE, SOON_TEMPLATE]
    assert [m["title"] for m in inbox(api, "alice")] == ["14:00 健康咨询即将开始", "明天14:00 健康咨询"]
    assert [(row[4]) for row in outbox(app)] == ["sent", "sent"]


def test_reminders_are_withdrawn_when_the_appointment_goes(api, world, app, wechat_sandbox):
    freeze(NOW)
    first = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 14))
    second = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 14))
    allow(api, "alice", DAY_BEFORE_TEMPLATE, SOON_TEMPLATE)
    allow(api, "grandpa", DAY_BEFORE_TEMPLATE, SOON_TEMPLATE)
    hers = booked(api, "alice", first["id"])
    his = booked(api, "a-doc", second["id"], world.grandpa)
    with frozen(cst(2025, 9, 21, 9)):
        assert api.post("alice", f"/api/v1/appointments/{hers['id']}/cancel", json={}).status_code == 200
        assert api.post("a-doc", f"/api/v1/appointments/{his['id']}/cancel", json={}).status_code == 200
    freeze(None)
    for at in (
        cst(2025, 9, 21, 10),
        cst(2025, 9, 22, 18),
        cst(2025, 9, 23, 12),
        cst(2025, 9, 23, 18),
        cst(2025, 9, 24, 12),
    ):
        dispatch_at(app, at)
    assert wechat_sandbox.messages(touser="alice") == []
    assert wechat_sandbox.messages(touser="grandpa") == []  # no credit for the cancellation template
    assert [(row[0].rsplit(":", 1)[1], row[3], row[4]) for row in outbox(app)] == [
        ("day_before", world.alice, "skipped"),
        ("soon", world.alice, "skipped"),
        ("day_before", world.grandpa, "skipped"),
        ("soon", world.grandpa, "skipped"),
        ("cancelled", world.grandpa, "sent"),
    ]
    assert inbox(api, "alice") == []
    assert [m["kind"] for m in inbox(api, "grandpa")] == ["appointment_cancelled"]


def test_late_bookings_get_only_the_reminders_still_ahead(api, world, app, monkeypatch):
    freeze(NOW)
    start = cst(2025, 9, 23, 14)
    slot = publish(api, "a-doc", world.team_a, "consultation", start)
    other = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 25, 10))
    with frozen(cst(2025, 9, 22, 20)):  # after 18:00 the evening before: only the "soon" one
        evening = booked(api, "alice", slot["id"])
    with frozen(start - timedelta(minutes=100)):  # within two hours: none
        late = booked(api, "a-nurse", slot["id"], world.grandpa)
    monkeypatch.setitem(app.config, "DAY_BEFORE_REMINDER_HOUR", 19)
    monkeypatch.setitem(app.config, "SOON_REMINDER_MINUTES_BEFORE", 60)
    configured = booked(api, "alice", other["id"])
    rows = {key: not_before.isoformat() for key, *_rest, not_before in outbox(app)}
    assert rows == {
        f"appointment:{evening['id']}:soon": "2025-09-23T04:00:00+00:00",
        f"appointment:{configured['id']}:day_before": "2025-09-24T11:00:00+00:00",
        f"appointment:{configured['id']}:soon": "2025-09-25T01:00:00+00:00",
    }
    assert late["status"] == "booked"


def test_the_team_gets_tomorrows_list_in_its_inbox(api, world, app):
    freeze(NOW)
    morning = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9))
    check = publish(api, "a-doc", world.team_a, "elderly_check", cst(2025, 9, 23, 14))
    elsewhere = publish(api, "b-doc", world.team_b, "chronic_followup", cst(2025, 9, 23, 9))
    later = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 9))
    booked(api, "alice", morning["id"])
    booked(api, "grandpa", check["id"])
    booked(api, "bob", elsewhere["id"])
    booked(api, "a-nurse", later["id"], world.grandpa)
    gone = booked(api, "a-nurse", morning["id"], world.child)
    api.post("a-doc", f"/api/v1/appointments/{gone['id']}/cancel", json={})

    with frozen(cst(2025, 9, 22, 16, 30)):  # as the scheduler runs it: one batch, committed by the runner
        counts = run_job(app, by_id("appointments-day-lists"))
        again = run_job(app, by_id("appointments-day-lists"))
    assert counts == {"day": "2025-09-23", "teams": 2, "appointments": 3, "enqueued": 3}
    assert again["enqueued"] == 0
    with app.app_context():
        rows = db.session.scalars(
            select(Outbox).where(Outbox.kind == "appointment_day_list").order_by(Outbox.recipient_id)
        ).all()
        assert [(o.recipient_kind, o.recipient_id) for o in rows] == [
            ("staff", world.a_doc),
            ("staff", world.a_nurse),
            ("staff", world.b_doc),
        ]
    dispatch_at(app, cst(2025, 9, 22, 16, 31))
    messages = inbox(api, "a-doc")
    assert [(m["kind"], m["title"]) for m in messages] == [("appointment_day_list", "鲸园一队 明日预约 2 人")]
    assert messages[0]["body"] == "09:00 健康咨询 张丽\n14:00 老年人健康体检 张建国"
    assert [m["title"] for m in inbox(api, "b-doc")] == ["竹岛一队 明日预约 1 人"]
    assert inbox(api, "a-doc2") == []
    assert date(2025, 9, 23).isoformat() == counts["day"]
