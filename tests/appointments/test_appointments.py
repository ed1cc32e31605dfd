"""Appointments through the HTTP API: slots and patterns, booking rules, cancelling, rescheduling,
check-in, no-shows, the team's day and scope."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from app.appointments.booking import appointment_for_visit, complete_appointment
from app.appointments.models import Appointment, Slot
from app.common.time import freeze, frozen, today
from app.extensions import db
from tests.appointments.helpers import NOW, book, booked, cst, dispatch_at, inbox, iso, outbox, publish, slot_state

# --- slots ------------------------------------------------------------------------------


def test_weekly_pattern_skips_the_national_day_holiday(api, world, app):
    freeze(NOW)
    body = {
        "team_id": world.team_a,
        "service": "elderly_check",
        "starts_on": "2025-09-22",
        "ends_on": "2025-10-12",
        "weekdays": [2, 4],
        "times": [{"start": "08:00", "end": "11:30"}],
        "capacity": 40,
    }
    r = api.post("a-doc", "/api/v1/slots/pattern", json=body)
    assert r.status_code == 201, r.json
    assert [(s["date"], s["starts_at"], s["ends_at"], s["capacity"], s["available"]) for s in r.json["created"]] == [
        ("2025-09-23", "2025-09-23T00:00:00+00:00", "2025-09-23T03:30:00+00:00", 40, 40),
        ("2025-09-25", "2025-09-25T00:00:00+00:00", "2025-09-25T03:30:00+00:00", 40, 40),
        ("2025-09-30", "2025-09-30T00:00:00+00:00", "2025-09-30T03:30:00+00:00", 40, 40),
        ("2025-10-09", "2025-10-09T00:00:00+00:00", "2025-10-09T03:30:00+00:00", 40, 40),
    ]
    assert [(s["date"], s["reason"], s["holiday"]) for s in r.json["skipped"]] == [
        ("2025-10-02", "holiday", "National Day"),
        ("2025-10-07", "holiday", "National Day"),
    ]

    # re-running the same pattern publishes nothing twice
    again = api.post("a-doc", "/api/v1/slots/pattern", json=body)
    assert again.status_code == 201
    assert again.json["created"] == []
    assert [s["reason"] for s in again.json["skipped"]] == [
        "exists",
        "exists",
        "exists",
        "holiday",
        "holiday",
        "exists",
    ]
    listed = api.get(
        "a-doc", "/api/v1/slots", query_string={"team_id": world.team_a, "from": "2025-09-22", "to": "2025-10-12"}
    ).json
    assert listed["total"] == 4
    assert {(s["service"], s["status"], s["booked"]) for s in listed["items"]} == {("elderly_check", "open", 0)}

    # "the next 8 weeks" with weeks=; holidays kept when asked
    eight = api.post(
        "a-doc2", "/api/v1/slots/pattern", json={**body, "team_id": world.team_a2, "ends_on": None, "weeks": 8}
    )
    assert eight.status_code == 201, eight.json
    assert len(eight.json["created"]) == 14 and len(eight.json["skipped"]) == 2
    assert eight.json["created"][-1]["date"] == "2025-11-13"
    kept = api.post(
        "a-doc2",
        "/api/v1/slots/pattern",
        json={**body, "team_id": world.team_a2, "service": "consultation", "skip_holidays": False},
    )
    assert [s["date"] for s in kept.json["created"]] == [
        "2025-09-23",
        "2025-09-25",
        "2025-09-30",
        "2025-10-02",
        "2025-10-07",
        "2025-10-09",
    ]


def test_pattern_falls_back_to_weekends_beyond_the_calendar(api, world, app):
    freeze(NOW)
    r = api.post(
        "a-doc",
        "/api/v1/slots/pattern",
        json={
            "team_id": world.team_a,
            "service": "consultation",
            "starts_on": "2030-01-05",
            "ends_on": "2030-01-14",
            "weekdays": [6, 1],
            "times": [{"start": "09:00", "end": "10:00"}, {"start": "14:00", "end": "15:00"}],
            "capacity": 5,
        },
    )
    assert r.status_code == 201, r.json
    assert [s["starts_at"] for s in r.json["created"]] == [
        "2030-01-07T01:00:00+00:00",
        "2030-01-07T06:00:00+00:00",
        "2030-01-14T01:00:00+00:00",
        "2030-01-14T06:00:00+00:00",
    ]
    assert [(s["date"], s["reason"], s["holiday"]) for s in r.json["skipped"]] == [
        ("2030-01-05", "holiday", "weekend"),
        ("2030-01-12", "holiday", "weekend"),
    ]


def test_pattern_validation(api, world, app):
    freeze(NOW)
    base = {
        "team_id": world.team_a,
        "service": "consultation",
        "starts_on": "2025-09-22",
        "weeks": 2,
        "weekdays": [1],
        "times": [{"start": "09:00", "end": "10:00"}],
        "capacity": 5,
    }
    cases = [
        ({"weekdays": [8]}, "weekdays"),
        ({"times": [{"start": "10:00", "end": "09:00"}]}, "times.0.end"),
        ({"weeks": None}, "ends_on"),
        ({"ends_on": "2025-09-01", "weeks": None}, "ends_on"),
        ({"ends_on": "2026-12-01", "weeks": None}, "ends_on"),
        ({"service": "dentist"}, "service"),
        ({"capacity": 0}, "capacity"),
        ({"colour": "red"}, "colour"),
    ]
    for change, field in cases:
        r = api.post("a-doc", "/api/v1/slots/pattern", json={**base, **change})
        assert r.status_code == 422, (change, r.json)
        assert field in r.json["errors"], (change, r.json)
    assert api.post("b-doc", "/api/v1/slots/pattern", json=base).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Slot)) == 0


def test_slots_one_by_one_or_as_a_list_all_or_nothing(api, world, app):
    freeze(NOW)
    one = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=3)
    assert (one["team_id"], one["service"], one["capacity"], one["available"], one["booked"], one["status"]) == (
        world.team_a,
        "consultation",
        3,
        3,
        0,
        "open",
    )
    assert one["starts_at"] == "2025-09-23T01:00:00+00:00"

    slot = {"team_id": world.team_a, "service": "consultation", "capacity": 4}
    many = api.post(
        "a-nurse",
        "/api/v1/slots",
        json=[
            {**slot, "starts_at": iso(cst(2025, 9, 24, 9)), "ends_at": iso(cst(2025, 9, 24, 10))},
            {**slot, "starts_at": iso(cst(2025, 9, 24, 10)), "ends_at": iso(cst(2025, 9, 24, 11))},
        ],
    )
    assert many.status_code == 201, many.json
    assert [s["starts_at"] for s in many.json] == ["2025-09-24T01:00:00+00:00", "2025-09-24T02:00:00+00:00"]

    bad = api.post(
        "a-doc",
        "/api/v1/slots",
        json=[
            {**slot, "starts_at": iso(cst(2025, 9, 25, 9)), "ends_at": iso(cst(2025, 9, 25, 10))},
            {**slot, "starts_at": "2025-09-25T10:00:00", "ends_at": iso(cst(2025, 9, 25, 11))},
        ],
    )
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["1.starts_at"]
    later = api.post(
        "a-doc",
        "/api/v1/slots",
        json=[
            {**slot, "starts_at": iso(cst(2025, 9, 25, 9)), "ends_at": iso(cst(2025, 9, 25, 10))},
            {**slot, "starts_at": iso(cst(2025, 9, 25, 10)), "ends_at": iso(cst(2025, 9, 25, 9))},
        ],
    )
    assert later.status_code == 422 and list(later.json["errors"]) == ["1.ends_at"]
    twice = api.post(
        "a-doc",
        "/api/v1/slots",
        json=[
            {**slot, "starts_at": iso(cst(2025, 9, 25, 9)), "ends_at": iso(cst(2025, 9, 25, 10))},
            {**slot, "starts_at": "2025-09-25T01:00:00Z", "ends_at": iso(cst(2025, 9, 25, 11))},
        ],
    )
    assert twice.status_code == 422 and list(twice.json["errors"]) == ["1.starts_at"]
    duplicate = api.post(
        "a-doc",
        "/api/v1/slots",
        json={**slot, "starts_at": iso(cst(2025, 9, 23, 9)), "ends_at": iso(cst(2025, 9, 23, 10))},
    )
    assert duplicate.status_code == 409 and duplicate.json["error"] == "slot_exists"
    for change, field in [
        ({"starts_at": iso(cst(2025, 9, 19, 9))}, "starts_at"),
        ({"ends_at": iso(cst(2025, 9, 27, 9))}, "ends_at"),
        ({"capacity": 501}, "capacity"),
        ({"service": "x"}, "service"),
    ]:
        r = api.post(
            "a-doc",
            "/api/v1/slots",
            json={**slot, "starts_at": iso(cst(2025, 9, 26, 9)), "ends_at": iso(cst(2025, 9, 26, 10)), **change},
        )
        assert r.status_code == 422 and field in r.json["errors"], (change, r.json)
    # staff publish only for teams they run
    assert (
        api.post(
            "b-doc",
            "/api/v1/slots",
            json={**slot, "starts_at": iso(cst(2025, 9, 26, 9)), "ends_at": iso(cst(2025, 9, 26, 10))},
        ).status_code
        == 404
    )
    assert (
        api.post(
            "alice",
            "/api/v1/slots",
            json={**slot, "starts_at": iso(cst(2025, 9, 26, 9)), "ends_at": iso(cst(2025, 9, 26, 10))},
        ).status_code
        == 403
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Slot)) == 3


def test_residents_see_the_slots_of_their_centre_only(api, world, app):
    freeze(NOW)
    a = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9))
    a2 = publish(api, "a-doc2", world.team_a2, "consultation", cst(2025, 9, 23, 9))
    b = publish(api, "b-doc", world.team_b, "consultation", cst(2025, 9, 23, 9))
    assert [s["id"] for s in api.get("alice", "/api/v1/slots").json["items"]] == [a["id"], a2["id"]]
    assert [s["id"] for s in api.get("bob", "/api/v1/slots").json["items"]] == [b["id"]]
    # grandpa's archive is at a station under centre A: the centre's teams serve him
    assert [s["id"] for s in api.get("grandpa", "/api/v1/slots").json["items"]] == [a["id"], a2["id"]]
    assert api.get("bob", f"/api/v1/slots/{a['id']}").status_code == 404
    assert book(api, "bob", a["id"]).status_code == 404
    assert [s["id"] for s in api.get("a-doc", "/api/v1/slots").json["items"]] == [a["id"], a2["id"]]


# --- booking ----------------------------------------------------------------------------


def test_a_resident_books_for_a_family_member(api, world, app):
    freeze(NOW)
    slot = publish(api, "a-doc", world.team_a, "child_check", cst(2025, 9, 23, 14))
    # no grant yet: the child is not alice's to book for
    assert book(api, "alice", slot["id"], world.child).status_code == 404
    r = api.post(
        "alice",
        "/api/v1/me/family",
        json={"name": world.names["child"], "id_number": world.numbers["child"], "relation": "child"},
    )
    assert r.status_code == 201 and r.json["status"] == "active"

    made = book(api, "alice", slot["id"], world.child, service="child_check", note="第一次体检")
    assert made.status_code == 201, made.json
    assert {
        k: made.json[k]
        for k in (
            "resident_id",
            "resident_name",
            "service",
            "status",
            "booked_by_kind",
            "team_id",
            "note",
            "can_cancel",
            "no_show_flag",
        )
    } == {
        "resident_id": world.child,
        "resident_name": "张小明",
        "service": "child_check",
        "status": "booked",
        "booked_by_kind": "resident",
        "team_id": world.team_a,
        "note": "第一次体检",
        "can_cancel": True,
        "no_show_flag": False,
    }
    assert slot_state(api, "a-doc", slot["id"]) == (1, 9, "open")
    # the reminders go to the parent's phone
    appointment_id = made.json["id"]
    assert [
        (key, recipient_kind, recipient_id) for key, _kind, recipient_kind, recipient_id, _s, _nb in outbox(app)
    ] == [
        (f"appointment:{appointment_id}:day_before", "resident", world.alice),
        (f"appointment:{appointment_id}:soon", "resident", world.alice),
    ]
    listed = api.get("alice", "/api/v1/appointments", query_string={"when": "upcoming"}).json
    assert [(i["id"], i["resident_id"]) for i in listed["items"]] == [(appointment_id, world.child)]
    # the child check is not for alice herself; grandpa has not granted her anything
    mine = book(api, "alice", slot["id"])
    assert mine.status_code == 422 and mine.json["error"] == "not_eligible" and "resident_id" in mine.json["errors"]
    assert book(api, "alice", slot["id"], world.grandpa).status_code == 404
    assert api.get("grandpa", f"/api/v1/appointments/{appointment_id}").status_code == 404


def test_capacity_is_never_exceeded(api, world, app):
    freeze(NOW)
    slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=2)
    booked(api, "a-doc", slot["id"], world.alice)
    booked(api, "grandpa", slot["id"])
    full = book(api, "a-nurse", slot["id"], world.child)
    assert full.status_code == 409 and full.json["error"] == "slot_full"
    assert slot_state(api, "a-doc", slot["id"]) == (2, 0, "open")
    listed = api.get("alice", "/api/v1/slots").json["items"]
    assert [(s["id"], s["available"], s["bookable"]) for s in listed] == [(slot["id"], 0, False)]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_double_booking_same_service_same_day(api, world, app):
    freeze(NOW)
    morning = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9))
    afternoon = publish(api, "a-doc2", world.team_a2, "consultation", cst(2025, 9, 23, 14))
    next_day = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 9))
    checkup = publish(api, "a-doc", world.team_a, "elderly_check", cst(2025, 9, 23, 14))
    first = booked(api, "grandpa", morning["id"])
    twice = book(api, "a-doc2", afternoon["id"], world.grandpa)
    assert twice.status_code == 409 and twice.json["error"] == "double_booking"
    assert slot_state(api, "a-doc2", afternoon["id"]) == (0, 10, "open")
    booked(api, "grandpa", next_day["id"])  # another day
    booked(api, "grandpa", checkup["id"])  # another service the same day
    assert api.post("grandpa", f"/api/v1/appointments/{first['id']}/cancel", json={}).status_code == 200
    booked(api, "grandpa", afternoon["id"])  # a cancelled booking does not count


def test_the_service_must_fit_the_person(api, world, app):
    freeze(NOW)
    slots = {
        service: publish(api, "a-doc", world.team_a, service, cst(2025, 9, 23, 9))["id"]
        for service in ("elderly_check", "chronic_followup", "child_check", "prenatal_check", "consultation")
    }
    expected = {
        "alice": {"consultation"},
        "grandpa": {"elderly_check", "chronic_followup", "consultation"},
        "child": {"child_check", "consultation"},
    }
    for who, allowed in expected.items():
        for service, slot_id in slots.items():
            r = book(api, "a-doc", slot_id, world.ids[who])
            if service in allowed:
                assert r.status_code == 201, (who, service, r.json)
            else:
                assert r.status_code == 422, (who, service, r.json)
                assert r.json["error"] == "not_eligible" and list(r.json["errors"]) == ["resident_id"]
    # pregnant once the pregnancy is registered: the prenatal check fits
    body = {"registered_on": today().isoformat(), "last_menstrual_on": (today() - timedelta(days=120)).isoformat()}
    r = api.post("a-doc", f"/api/v1/residents/{world.alice}/pregnancies", json=body)
    assert r.status_code == 201, r.json
    assert book(api, "alice", slots["prenatal_check"]).status_code == 201
    # the service named in the request must be the slot's
    wrong = book(api, "a-doc", slots["consultation"], world.alice, service="elderly_check")
    assert wrong.status_code == 422 and "service" in wrong.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 7


def test_cutoffs_for_booking_and_cancelling(api, world, app, monkeypatch):
    freeze(NOW)
    start = cst(2025, 9, 23, 14)
    slot = publish(api, "a-doc", world.team_a, "consultation", start)
    other = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 14))
    api.resident_token("alice"), api.resident_token("grandpa")
    with frozen(start - timedelta(minutes=61)):
        early = booked(api, "alice", slot["id"])
    with frozen(start - timedelta(minutes=59)):
        late = book(api, "grandpa", slot["id"])
        assert late.status_code == 409 and late.json["error"] == "booking_closed"
        assert api.get("grandpa", f"/api/v1/slots/{slot['id']}").json["bookable"] is False
        # the front desk may still book a walk-in until the start
        assert book(api, "a-nurse", slot["id"], world.grandpa).status_code == 201
    with frozen(start + timedelta(minutes=1)):
        assert book(api, "a-nurse", slot["id"], world.child).json["error"] == "booking_closed"
    monkeypatch.setitem(app.config, "BOOKING_CLOSES_MINUTES_BEFORE", 30)
    with frozen(start - timedelta(minutes=45)):
        assert book(api, "a-nurse", slot["id"], world.child).status_code == 201

    mine = booked(api, "alice", other["id"])
    with frozen(cst(2025, 9, 24, 14) - timedelta(minutes=121)):
        assert api.get("alice", f"/api/v1/appointments/{mine['id']}").json["can_cancel"] is True
    with frozen(cst(2025, 9, 24, 14) - timedelta(minutes=119)):
        assert api.get("alice", f"/api/v1/appointments/{mine['id']}").json["can_cancel"] is False
        r = api.post("alice", f"/api/v1/appointments/{mine['id']}/cancel", json={})
        assert r.status_code == 409 and r.json["error"] == "cancel_cutoff_passed"
        moved = api.post("alice", f"/api/v1/appointments/{mine['id']}/reschedule", json={"slot_id": slot["id"]})
        assert moved.status_code == 409 and moved.json["error"] == "cancel_cutoff_passed"
        r = api.post("a-doc", f"/api/v1/appointments/{mine['id']}/cancel", json={"note": "医生临时出诊"})
        assert r.status_code == 200 and r.json["status"] == "cancelled" and r.json["cancel_reason"] == "staff"
    monkeypatch.setitem(app.config, "RESIDENT_CANCEL_CUTOFF_MINUTES", 0)
    with frozen(start - timedelta(minutes=1)):
        r = api.post("alice", f"/api/v1/appointments/{early['id']}/cancel", json={})
        assert r.status_code == 200 and r.json["cancel_reason"] == "resident"
        again = api.post("alice", f"/api/v1/appointments/{early['id']}/cancel", json={})
        assert again.status_code == 409 and again.json["error"] == "not_cancellable"
    assert slot_state(api, "a-doc", slot["id"]) == (2, 8, "open")


def test_reschedule_is_atomic(api, world, app):
    freeze(NOW)
    old_slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9))
    full_slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 25, 9), capacity=1)
    new_slot = publish(api, "a-doc2", world.team_a2, "consultation", cst(2025, 9, 23, 15))
    checkup = publish(api, "a-doc", world.team_a, "elderly_check", cst(2025, 9, 26, 9))
    booked(api, "a-doc", full_slot["id"], world.grandpa)
    old = booked(api, "alice", old_slot["id"], note="咳嗽")
    keys = [(key, status) for key, *_rest in outbox(app, f"appointment:{old['id']}:") for status in [_rest[3]]]
    assert keys == [(f"appointment:{old['id']}:day_before", "pending"), (f"appointment:{old['id']}:soon", "pending")]

    failed = api.post("alice", f"/api/v1/appointments/{old['id']}/reschedule", json={"slot_id": full_slot["id"]})
    assert failed.status_code == 409 and failed.json["error"] == "slot_full"
    still = api.get("alice", f"/api/v1/appointments/{old['id']}").json
    assert (still["status"], still["rescheduled_to_id"], still["slot_id"]) == ("booked", None, old_slot["id"])
    assert slot_state(api, "a-doc", old_slot["id"]) == (1, 9, "open")
    assert slot_state(api, "a-doc", full_slot["id"]) == (1, 0, "open")
    assert [row[4] for row in outbox(app, f"appointment:{old['id']}:")] == ["pending", "pending"]
    other_service = api.post("alice", f"/api/v1/appointments/{old['id']}/reschedule", json={"slot_id": checkup["id"]})
    assert other_service.status_code == 422 and "slot_id" in other_service.json["errors"]

    # the same day, another team: the old booking gives way to the new one in one transaction
    moved = api.post("alice", f"/api/v1/appointments/{old['id']}/reschedule", json={"slot_id": new_slot["id"]})
    assert moved.status_code == 201, moved.json
    assert (moved.json["slot_id"], moved.json["rescheduled_from_id"], moved.json["status"], moved.json["note"]) == (
        new_slot["id"],
        old["id"],
        "booked",
        "咳嗽",
    )
    before = api.get("alice", f"/api/v1/appointments/{old['id']}").json
    assert (before["status"], before["cancel_reason"], before["rescheduled_to_id"]) == (
        "cancelled",
        "rescheduled",
        moved.json["id"],
    )
    assert slot_state(api, "a-doc", old_slot["id"]) == (0, 10, "open")
    assert slot_state(api, "a-doc2", new_slot["id"]) == (1, 9, "open")
    assert [
        (row[0], row[4])
        for row in outbox(app, f"appointment:{old['id']}:") + outbox(app, f"appointment:{moved.json['id']}:")
    ] == [
        (f"appointment:{old['id']}:day_before", "skipped"),
        (f"appointment:{old['id']}:soon", "skipped"),
        (f"appointment:{moved.json['id']}:day_before", "pending"),
        (f"appointment:{moved.json['id']}:soon", "pending"),
    ]
    again = api.post("alice", f"/api/v1/appointments/{old['id']}/reschedule", json={"slot_id": full_slot["id"]})
    assert again.status_code == 409 and again.json["error"] == "not_cancellable"


def test_cancelling_a_slot_cancels_its_appointments_and_tells_the_residents(api, world, app):
    freeze(NOW)
    slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9))
    empty = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 9))
    api.post(
        "alice",
        "/api/v1/me/family",
        json={"name": world.names["child"], "id_number": world.numbers["child"], "relation": "child"},
    )
    mine = booked(api, "alice", slot["id"])
    childs = booked(api, "alice", slot["id"], world.child)
    grandpas = booked(api, "a-nurse", slot["id"], world.grandpa)

    blocked = api.delete("a-doc", f"/api/v1/slots/{slot['id']}")
    assert blocked.status_code == 409 and blocked.json["error"] == "slot_has_bookings"
    assert api.post("b-doc", f"/api/v1/slots/{slot['id']}/cancel", json={}).status_code == 404
    r = api.post("a-doc", f"/api/v1/slots/{slot['id']}/cancel", json={"reason": "医生外出培训"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["cancel_reason"], r.json["available"], r.json["booked"]) == (
        "cancelled",
        "医生外出培训",
        0,
        0,
    )
    for appointment in (mine, childs, grandpas):
        seen = api.get("a-doc", f"/api/v1/appointments/{appointment['id']}").json
        assert (seen["status"], seen["cancel_reason"]) == ("cancelled", "slot_cancelled")
    cancelled = [
        (key, recipient, status)
        for key, kind, _rk, recipient, status, _nb in outbox(app)
        if kind == "appointment_cancelled"
    ]
    assert cancelled == [
        (f"appointment:{mine['id']}:cancelled", world.alice, "pending"),
        (f"appointment:{childs['id']}:cancelled", world.alice, "pending"),
        (f"appointment:{grandpas['id']}:cancelled", world.grandpa, "pending"),
    ]
    assert {status for key, kind, _rk, _r, status, _nb in outbox(app) if kind != "appointment_cancelled"} == {"skipped"}
    dispatch_at(app, cst(2025, 9, 20, 11))
    alice_inbox = inbox(api, "alice")
    assert [m["title"] for m in alice_inbox] == ["健康咨询预约已取消", "健康咨询预约已取消"]
    assert "医生外出培训" in alice_inbox[0]["body"]
    assert [m["kind"] for m in inbox(api, "grandpa")] == ["appointment_cancelled"]

    again = book(api, "grandpa", slot["id"])
    assert again.status_code == 409 and again.json["error"] == "slot_cancelled"
    assert api.post("a-doc", f"/api/v1/slots/{slot['id']}/cancel", json={}).json["error"] == "slot_cancelled"
    assert api.delete("a-doc", f"/api/v1/slots/{slot['id']}").status_code == 409
    assert api.delete("b-doc", f"/api/v1/slots/{empty['id']}").status_code == 404
    assert api.delete("a-doc", f"/api/v1/slots/{empty['id']}").status_code == 204
    assert api.get("a-doc", f"/api/v1/slots/{empty['id']}").status_code == 404


# --- the day: check-in, no-show, the visit link -------------------------------------------------


def test_check_in_links_the_visit_and_no_show_needs_the_start(api, world, app):
    freeze(NOW)
    start = cst(2025, 9, 23, 9)
    slot = publish(api, "a-doc", world.team_a, "chronic_followup", start)
    made = booked(api, "grandpa", slot["id"])
    assert api.post("grandpa", f"/api/v1/appointments/{made['id']}/check-in").status_code == 403
    early = api.post("a-doc", f"/api/v1/appointments/{made['id']}/check-in")
    assert early.status_code == 409 and early.json["error"] == "too_early"
    dispatch_at(app, cst(2025, 9, 22, 18, 5))  # the day-before reminder goes out
    with frozen(start - timedelta(minutes=30)):
        too_soon = api.post("a-doc", f"/api/v1/appointments/{made['id']}/no-show")
        assert too_soon.status_code == 409 and too_soon.json["error"] == "too_early"
        r = api.post("a-nurse", f"/api/v1/appointments/{made['id']}/check-in")
        assert r.status_code == 200 and r.json["status"] == "checked_in"
    with frozen(start + timedelta(minutes=30)):
        assert api.post("a-doc", f"/api/v1/appointments/{made['id']}/no-show").json["error"] == "invalid_status"
        assert (
            api.post("a-doc", f"/api/v1/appointments/{made['id']}/cancel", json={}).json["error"] == "not_cancellable"
        )
    # the pending "soon" reminder is withdrawn once they are here
    assert [(row[0].rsplit(":", 1)[1], row[4]) for row in outbox(app)] == [("day_before", "sent"), ("soon", "skipped")]
    with app.app_context():
        found = appointment_for_visit(world.grandpa, "chronic_followup", date(2025, 9, 23))
        assert found == made["id"]
        assert appointment_for_visit(world.grandpa, "elderly_check", date(2025, 9, 23)) is None
        assert appointment_for_visit(world.grandpa, ("elderly_check", "chronic_followup"), date(2025, 9, 24)) is None
        done = complete_appointment(found, "followup", 77)
        assert (done.status, done.completion_source, done.completion_source_id) == ("completed", "followup", 77)
        db.session.commit()
        assert complete_appointment(found, "followup", 77).status == "completed"  # idempotent
        import pytest

        from app.errors import Conflict

        with pytest.raises(Conflict):
            complete_appointment(found, "health_check", 5)
        assert appointment_for_visit(world.grandpa, "chronic_followup", date(2025, 9, 23)) is None
    assert api.get("a-doc", f"/api/v1/appointments/{made['id']}").json["status"] == "completed"


def test_three_no_shows_in_a_row_flag_the_resident(api, world, app):
    freeze(NOW)
    days = [cst(2025, 9, d, 9) for d in (22, 23, 24, 25, 26)]
    slots = [publish(api, "a-doc", world.team_a, "consultation", at) for at in days]
    made = [booked(api, "a-nurse", s["id"], world.grandpa) for s in slots]
    other = booked(api, "a-nurse", slots[3]["id"], world.alice)

    def mark(index, action):
        with frozen(days[index] + timedelta(minutes=10)):
            r = api.post("a-doc", f"/api/v1/appointments/{made[index]['id']}/{action}")
            assert r.status_code == 200, r.json

    def flagged(day_index):
        view = api.get(
            "a-doc", f"/api/v1/teams/{world.team_a}/day", query_string={"date": days[day_index].date().isoformat()}
        ).json
        return {e["resident_id"]: e["no_show_flag"] for s in view["slots"] for e in s["appointments"]}

    mark(0, "check-in")
    mark(1, "no-show")
    mark(2, "no-show")
    assert flagged(3) == {world.grandpa: False, world.alice: False}  # last three: ns, ns, checked in
    mark(3, "no-show")
    assert flagged(3) == {world.grandpa: True, world.alice: False}
    with frozen(days[3] + timedelta(hours=3)):
        listed = api.get(
            "a-doc", "/api/v1/appointments", query_string={"resident_id": world.grandpa, "when": "upcoming"}
        ).json["items"]
    assert [(i["id"], i["no_show_flag"]) for i in listed] == [(made[4]["id"], True)]
    team_list = api.get("a-doc", f"/api/v1/teams/{world.team_a}/no-shows").json
    assert [(r["resident_id"], r["name"]) for r in team_list] == [(world.grandpa, "张建国")]
    assert api.get("b-doc", f"/api/v1/teams/{world.team_a}/no-shows").status_code == 404
    mark(4, "check-in")
    assert flagged(4) == {world.grandpa: False}
    assert api.get("a-doc", f"/api/v1/teams/{world.team_a}/no-shows").json == []
    assert other["resident_id"] == world.alice


def test_the_team_day_view_and_its_scope(api, world, app):
    freeze(NOW)
    morning = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=5)
    afternoon = publish(api, "a-doc", world.team_a, "elderly_check", cst(2025, 9, 23, 14), capacity=3)
    publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 9))
    publish(api, "a-doc2", world.team_a2, "consultation", cst(2025, 9, 23, 9))
    came = booked(api, "a-nurse", morning["id"], world.grandpa)
    away = booked(api, "alice", morning["id"])
    gone = booked(api, "a-nurse", morning["id"], world.child)
    check = booked(api, "grandpa", afternoon["id"])
    api.post("a-doc", f"/api/v1/appointments/{gone['id']}/cancel", json={})
    with frozen(cst(2025, 9, 23, 9, 30)):
        api.post("a-doc", f"/api/v1/appointments/{came['id']}/check-in")
        api.post("a-doc", f"/api/v1/appointments/{away['id']}/no-show")
        view = api.get("a-doc", f"/api/v1/teams/{world.team_a}/day")
    assert view.status_code == 200, view.json
    body = view.json
    assert (body["team_id"], body["date"]) == (world.team_a, "2025-09-23")
    assert [
        (
            s["id"],
            s["capacity"],
            s["booked"],
            s["available"],
            s["waiting"],
            s["checked_in"],
            s["no_show"],
            s["cancelled"],
        )
        for s in body["slots"]
    ] == [(morning["id"], 5, 2, 3, 0, 1, 1, 1), (afternoon["id"], 3, 1, 2, 1, 0, 0, 0)]
    assert [(e["id"], e["name"], e["status"]) for e in body["slots"][0]["appointments"]] == [
        (came["id"], "张建国", "checked_in"),
        (away["id"], "张丽", "no_show"),
    ]
    assert [e["id"] for e in body["slots"][1]["appointments"]] == [check["id"]]
    assert body["totals"] == {"capacity": 8, "booked": 3, "waiting": 1, "checked_in": 1, "no_show": 1, "cancelled": 1}
    other_day = api.get("a-doc", f"/api/v1/teams/{world.team_a}/day", query_string={"date": "2025-09-24"}).json
    assert [(s["booked"], s["appointments"]) for s in other_day["slots"]] == [(0, [])]

    # another team's day is not found — another centre, or another team of the same centre
    assert api.get("b-doc", f"/api/v1/teams/{world.team_a}/day").status_code == 404
    assert api.get("a-doc", f"/api/v1/teams/{world.team_b}/day").status_code == 404
    denied = api.get("a-doc2", f"/api/v1/teams/{world.team_a}/day")
    assert denied.status_code == 404 and "张建国" not in denied.get_data(as_text=True)
    assert api.get("alice", f"/api/v1/teams/{world.team_a}/day").status_code == 403
    assert (
        api.get("a-admin", f"/api/v1/teams/{world.team_a}/day", query_string={"date": "2025-09-23"}).status_code == 200
    )
    assert api.get("admin", f"/api/v1/teams/{world.team_a}/day", query_string={"date": "2025-09-23"}).status_code == 200
    assert api.get("a-doc", f"/api/v1/teams/{world.team_a}/day", query_string={"date": "23/09"}).status_code == 422
    # the team's acts are the team's: others get 404
    for who in ("b-doc", "a-doc2"):
        assert api.post(who, f"/api/v1/appointments/{check['id']}/check-in").status_code == 404
        assert api.post(who, f"/api/v1/appointments/{check['id']}/cancel", json={}).status_code == 404
        assert api.get(who, f"/api/v1/appointments/{check['id']}").status_code == 404
    assert api.get("bob", f"/api/v1/appointments/{check['id']}").status_code == 404
    assert api.post("bob", f"/api/v1/appointments/{check['id']}/cancel", json={}).status_code == 404
    assert api.get("b-doc", "/api/v1/appointments").json["total"] == 0
    assert api.get("a-doc", "/api/v1/appointments").json["total"] == 4


def test_upcoming_and_past_for_the_resident(api, world, app):
    freeze(NOW)
    first = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 22, 9))
    second = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 24, 9))
    third = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 26, 9))
    a = booked(api, "alice", first["id"])
    b = booked(api, "alice", second["id"])
    c = booked(api, "alice", third["id"])
    with frozen(cst(2025, 9, 22, 9, 5)):
        api.post("a-doc", f"/api/v1/appointments/{a['id']}/check-in")
    api.post("alice", f"/api/v1/appointments/{c['id']}/cancel", json={})
    with frozen(cst(2025, 9, 23, 8)):
        upcoming = api.get("alice", "/api/v1/appointments", query_string={"when": "upcoming"}).json
        past = api.get("alice", "/api/v1/appointments", query_string={"when": "past"}).json
        everything = api.get("alice", "/api/v1/appointments").json
    assert [i["id"] for i in upcoming["items"]] == [b["id"]]
    assert [(i["id"], i["status"]) for i in past["items"]] == [(c["id"], "cancelled"), (a["id"], "checked_in")]
    assert everything["total"] == 3
    assert api.get("alice", "/api/v1/appointments", query_string={"when": "soon"}).status_code == 422
    assert api.get("bob", "/api/v1/appointments").json["total"] == 0


def test_a_repeated_booking_request_is_answered_once(api, world, app):
    freeze(NOW)
    slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=3)
    headers = {"Idempotency-Key": "phone-retry-1"}
    first = api.post("alice", "/api/v1/appointments", json={"slot_id": slot["id"]}, headers=headers)
    second = api.post("alice", "/api/v1/appointments", json={"slot_id": slot["id"]}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json["id"] == first.json["id"]
    assert slot_state(api, "a-doc", slot["id"]) == (1, 2, "open")
    # without the key, the second request is a double booking
    assert book(api, "alice", slot["id"]).json["error"] == "double_booking"
