"""Helpers for the appointment tests: local times, slots and bookings through the API, outbox reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.notify.dispatcher import drain
from app.notify.models import Outbox

CST = timezone(timedelta(hours=8))
# A Saturday morning in September 2025; the National Day holiday (1–8 October) lies ahead.
NOW = datetime(2025, 9, 20, 10, 0, tzinfo=CST)


def cst(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def iso(at: datetime) -> str:
    return at.isoformat()


def publish(api, who, team_id, service, starts_at: datetime, hours: float = 2, capacity: int = 10, **extra):
    r = api.post(
        who,
        "/api/v1/slots",
        json={
            "team_id": team_id,
            "service": service,
            "starts_at": iso(starts_at),
            "ends_at": iso(starts_at + timedelta(hours=hours)),
            "capacity": capacity,
            **extra,
        },
    )
    assert r.status_code == 201, r.json
    return r.json


def book(api, who, slot_id, resident_id=None, **extra):
    body = {"slot_id": slot_id, **extra}
    if resident_id is not None:
        body["resident_id"] = resident_id
    return api.post(who, "/api/v1/appointments", json=body)


def booked(api, who, slot_id, resident_id=None, **extra) -> dict:
    r = book(api, who, slot_id, resident_id, **extra)
    assert r.status_code == 201, r.json
    return r.json


def slot_state(api, who, slot_id) -> tuple[int, int, str]:
    r = api.get(who, f"/api/v1/slots/{slot_id}")
    assert r.status_code == 200, r.json
    return r.json["booked"], r.json["available"], r.json["status"]


def outbox(app, prefix: str = "appointment") -> list[tuple]:
    """(dedup_key, kind, recipient_kind, recipient_id, status, not_before) of matching rows, by id."""
    with app.app_context():
        rows = db.session.scalars(select(Outbox).where(Outbox.dedup_key.startswith(prefix)).order_by(Outbox.id))
        return [(o.dedup_key, o.kind, o.recipient_kind, o.recipient_id, o.status, o.not_before) for o in rows]


def dispatch_at(app, at: datetime):
    from app.common.time import frozen

    with frozen(at), app.app_context():
        return drain()


def inbox(api, who) -> list[dict]:
    r = api.get(who, "/api/v1/me/messages", query_string={"per_page": 100})
    assert r.status_code == 200, r.json
    return r.json["items"]


def add_resident(app, world, key: str, name: str, institution_id: int, birth_on: date, *, sex="male", **extra) -> int:
    """A resident (through the factory) that ``api`` can log in as ``key``."""
    from app.orgs.models import Institution
    from tests.factories import resident

    with app.app_context():
        person = resident(name, db.session.get(Institution, institution_id), birth_on, sex=sex, **extra)
        db.session.commit()
        world.ids[key] = person.id
        world.numbers[key] = person.id_number
        world.names[key] = name
        return person.id
