"""The demo step: weeks of slots and bookings for the demo teams, consistent with the rules."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.appointments.demo import PAST_DAYS
from app.appointments.models import HOLDING_STATUSES, Appointment, Slot
from app.appointments.no_shows import no_show_flags
from app.common.time import age_on, at_local, freeze
from app.extensions import db
from app.notify.models import Outbox
from app.residents.models import Resident
from app.residents.populations import populations_of
from tests.appointments.helpers import NOW
from tests.factories import keep_demo_steps


@pytest.fixture
def with_step(monkeypatch):
    keep_demo_steps(monkeypatch, "appointments")


def test_seed_demo_books_the_demo_teams(app, with_step):
    freeze(NOW)  # 20 Sept 2025: the National Day holiday (1–8 Oct) begins within the two weeks ahead
    result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "7"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Appointments:" in result.output
    with app.app_context():
        slots = db.session.scalars(select(Slot)).all()
        assert len(slots) > 100
        assert {s.starts_on.isoformat() for s in slots}.isdisjoint(
            {f"2025-10-0{d}" for d in range(1, 9)}
        )  # the holiday week has no slots
        assert min(s.starts_on for s in slots) == NOW.date() - timedelta(days=PAST_DAYS - 2)  # the first Monday
        # every slot's counter is the number of places its appointments hold
        held = dict(
            db.session.execute(
                select(Appointment.slot_id, func.count())
                .where(Appointment.status != "cancelled")
                .group_by(Appointment.slot_id)
            ).all()
        )
        assert all(s.booked == held.get(s.id, 0) <= s.capacity for s in slots)
        rows = db.session.execute(
            select(Appointment, Resident).join(Resident, Resident.id == Appointment.resident_id)
        ).all()
        assert len(rows) > 500
        statuses = Counter(a.status for a, _r in rows)
        assert set(statuses) == {"booked", "checked_in", "no_show", "cancelled"}
        # the service fits each person on the day (the app's own population rules)
        needs = {"elderly_check": "elderly", "child_check": "children_0_6", "prenatal_check": "pregnant"}
        for appointment, resident in rows:
            pops = populations_of(resident, appointment.scheduled_on)
            if appointment.service in needs:
                assert needs[appointment.service] in pops, (
                    appointment.service,
                    age_on(resident.birth_on, appointment.scheduled_on),
                )
            if appointment.service == "chronic_followup":
                assert {"hypertension", "t2dm"} & set(pops)
        holding = Counter((a.resident_id, a.service, a.scheduled_on) for a, _r in rows if a.status in HOLDING_STATUSES)
        assert max(holding.values()) == 1
        # pending reminders exactly for the upcoming bookings whose times are still ahead
        upcoming = [a for a, _r in rows if a.status == "booked"]
        expected = sum((at_local(a.scheduled_on - timedelta(days=1), 18) > NOW) + 1 for a in upcoming)
        reminders = db.session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.kind.in_(("appointment_day_before", "appointment_soon")))
        )
        assert reminders == expected
        flagged = no_show_flags({a.resident_id for a, _r in rows})
        teams = db.session.scalar(select(func.count(func.distinct(Slot.team_id))))
        assert len(flagged) == teams
        team_of_flagged = db.session.scalar(
            select(Appointment.team_id).where(Appointment.resident_id == sorted(flagged)[0])
        )
        day = db.session.scalar(
            select(Appointment.scheduled_on)
            .where(Appointment.resident_id == sorted(flagged)[0], Appointment.status == "no_show")
            .order_by(Appointment.starts_at.desc())
        )

    client = app.test_client()
    login = client.post("/api/v1/auth/staff/login", json={"username": "admin", "password": app.config["DEMO_PASSWORD"]})
    assert login.status_code == 200, login.json
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    view = client.get(f"/api/v1/teams/{team_of_flagged}/day", headers=headers, query_string={"date": day.isoformat()})
    assert view.status_code == 200
    entries = [e for s in view.json["slots"] for e in s["appointments"]]
    assert [e["status"] for e in entries if e["resident_id"] == sorted(flagged)[0]] == ["no_show"]
    assert any(e["no_show_flag"] for e in entries)
