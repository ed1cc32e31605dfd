"""Finding 3: a reminder of a cancelled appointment never reaches WeChat.

An appointment reminder falls due; the dispatcher writes its inbox copy at once but the WeChat
send has to wait — quiet hours, or a transient WeChat error and its retry. Meanwhile the
doctor cancels the booking. When the wait is over (the morning comes, or the retry fires),
WeChat must receive the cancellation only, never the "day before" or "soon" reminder.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.deployed.conftest import bind_with_credits, local_hour, register_resident, wait_for

SEND = "/cgi-bin/message/subscribe/send"
LOCAL = ZoneInfo("Asia/Shanghai")
CANCELLED = "tmpl-appointment_cancelled"
_slot_minutes = iter(range(0, 24 * 60, 20))


def _book_tomorrow(setup, doctor, resident) -> int:
    tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
    starts = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 8, tzinfo=LOCAL) + timedelta(
        minutes=next(_slot_minutes)
    )
    token = doctor["access_token"]
    slot = setup.post(
        "/api/v1/slots",
        token=token,
        json={
            "team_id": doctor["staff"]["team_ids"][0],
            "service": "consultation",
            "capacity": 1,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=15)).isoformat(),
        },
    )
    assert slot.status_code == 201, slot.text
    booked = setup.post(
        "/api/v1/appointments", token=token, json={"slot_id": slot.json()["id"], "resident_id": resident.id}
    )
    assert booked.status_code == 201, booked.text
    return booked.json()["id"]


def _reminders(deployment, appointment_id):
    return deployment.sql(
        "SELECT id, dedup_key, status, inbox_message_id, next_attempt_at FROM outbox "
        "WHERE dedup_key LIKE :key ORDER BY id",
        key=f"appointment:{appointment_id}:%",
    )


def _due_now(deployment, appointment_id):
    """Time passes: what waits (for its time, the morning, or a retry) is due now."""
    deployment.sql(
        "UPDATE outbox SET next_attempt_at = :at WHERE dedup_key LIKE :key AND status = 'pending'",
        at=datetime.now(UTC) - timedelta(minutes=1),
        key=f"appointment:{appointment_id}:%",
    )


@pytest.mark.parametrize("wait", ["quiet_hours", "retry"])
def test_cancelled_booking_sends_only_the_cancellation(deployment, setup, doctor, wait):
    resident = bind_with_credits(setup, register_resident(setup, doctor, "撤回"))
    sandbox = deployment.sandbox
    with deployment.workers_paused():
        appointment_id = _book_tomorrow(setup, doctor, resident)
        kinds = {r["dedup_key"].rsplit(":", 1)[1] for r in _reminders(deployment, appointment_id)}
        assert "soon" in kinds, kinds
        _due_now(deployment, appointment_id)

        # The reminders fall due: inbox copies written, the WeChat sends wait.
        if wait == "quiet_hours":
            hour = local_hour()
            waiting = deployment.start_dispatcher("night-dispatcher", QUIET_HOURS=f"{hour}-{(hour + 2) % 24}")
        else:
            sandbox.fault(SEND, errcode=-1, times=len(kinds))  # "system error": retry with backoff
            waiting = deployment.start_dispatcher("day-dispatcher")
        try:
            wait_for(
                lambda: all(
                    r["inbox_message_id"] is not None and r["status"] == "pending"
                    for r in _reminders(deployment, appointment_id)
                ),
                30,
                f"the reminders to wait ({wait}) with their inbox copies written",
                deployment,
            )
        finally:
            waiting.stop()

        cancelled = setup.post(
            f"/api/v1/appointments/{appointment_id}/cancel", token=doctor["access_token"], json={"note": "医生临时出诊"}
        )
        assert cancelled.status_code == 200, cancelled.text

        _due_now(deployment, appointment_id)  # the morning comes / the retry fires
        morning = deployment.start_dispatcher("morning-dispatcher")
        try:
            wait_for(
                lambda: (
                    any(m["template_id"] == CANCELLED for m in sandbox.messages(resident.openid))
                    and not any(r["status"] in ("pending", "sending") for r in _reminders(deployment, appointment_id))
                ),
                60,
                "the cancellation to be sent and nothing left to send",
                deployment,
            )
        finally:
            morning.stop()

    received = [m["template_id"] for m in sandbox.messages(resident.openid)]
    assert received == [CANCELLED]
