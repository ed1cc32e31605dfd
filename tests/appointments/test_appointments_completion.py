"""Recording the follow-up visit of a checked-in appointment completes that appointment."""

from __future__ import annotations

from datetime import date, timedelta

from app.common.time import freeze, frozen
from tests.appointments.helpers import NOW, booked, cst, publish
from tests.followups.helpers import visit_ok

VISIT_DAY = date(2025, 9, 23)
START = cst(2025, 9, 23, 9)


def status(api, appointment_id) -> str:
    r = api.get("a-doc", f"/api/v1/appointments/{appointment_id}")
    assert r.status_code == 200, r.json
    return r.json["status"]


def check_in(api, appointment_id) -> None:
    r = api.post("a-nurse", f"/api/v1/appointments/{appointment_id}/check-in")
    assert r.status_code == 200 and r.json["status"] == "checked_in", r.json


def test_the_follow_up_visit_recorded_for_a_checked_in_appointment_completes_it(api, world):
    freeze(NOW)
    followup = booked(api, "grandpa", publish(api, "a-doc", world.team_a, "chronic_followup", START)["id"])
    check = booked(api, "grandpa", publish(api, "a-doc", world.team_a, "elderly_check", START)["id"])
    with frozen(START + timedelta(minutes=10)):
        check_in(api, followup["id"])
        check_in(api, check["id"])
        visit_ok(api, "a-doc", world.grandpa, "hypertension", VISIT_DAY, sbp=128, dbp=82, heart_rate=72)
        r = api.get("a-doc", f"/api/v1/appointments/{followup['id']}")
        assert r.json["status"] == "completed" and r.json["completed_at"] is not None
        # the follow-up visit is not the elderly health check: that one waits for its own record
        assert status(api, check["id"]) == "checked_in"
        # a second visit that day changes nothing
        visit_ok(api, "a-doc", world.grandpa, "hypertension", VISIT_DAY, sbp=126, dbp=80)
        assert status(api, followup["id"]) == "completed"


def test_a_visit_on_another_day_completes_nothing(api, world):
    freeze(NOW)
    followup = booked(api, "grandpa", publish(api, "a-doc", world.team_a, "chronic_followup", START)["id"])
    tomorrow = booked(
        api, "grandpa", publish(api, "a-doc", world.team_a, "chronic_followup", START + timedelta(days=1))["id"]
    )
    with frozen(START + timedelta(minutes=10)):
        check_in(api, followup["id"])
        # a late entry of yesterday's visit is not today's appointment's visit
        visit_ok(api, "a-doc", world.grandpa, "hypertension", VISIT_DAY - timedelta(days=1), sbp=128, dbp=82)
        assert status(api, followup["id"]) == "checked_in"
    with frozen(START + timedelta(days=1, minutes=10)):
        # nor does a visit on a day the resident has a booking but did not check in
        visit_ok(api, "a-doc", world.grandpa, "hypertension", VISIT_DAY + timedelta(days=1), sbp=128, dbp=82)
        assert status(api, tomorrow["id"]) == "booked"
        assert status(api, followup["id"]) == "checked_in"
