"""Capacity and the one-booking-a-day rule under concurrent requests (threads, each with its own
test client and login), on whichever engine DATABASE_URL names (SQLite and PostgreSQL in CI)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import date

from sqlalchemy import func, select

from app.appointments.models import Appointment, Slot
from app.common.time import freeze
from app.extensions import db
from tests.appointments.helpers import NOW, add_resident, booked, cst, publish

THREADS = 30
REMAINING = 5


def _client(app, index: int):
    client = app.test_client()
    # Logins are rate-limited per client address: each phone has its own.
    client.environ_base["REMOTE_ADDR"] = f"10.7.{index // 250}.{index % 250 + 1}"
    return client


def _resident_login(app, index: int, openid: str, name: str | None = None, id_number: str | None = None) -> tuple:
    client = _client(app, index)
    r = client.post("/api/v1/auth/wechat/login", json={"code": f"{openid}:{uuid.uuid4().hex}"})
    assert r.status_code == 200, r.json
    headers = {"Authorization": f"Bearer {r.json['access_token']}"}
    if name is not None:
        r = client.post("/api/v1/auth/wechat/bind", headers=headers, json={"name": name, "id_number": id_number})
        assert r.status_code == 200, r.json
    return client, headers


def _race(requests: list) -> list:
    """Run each (client, headers, body) at the same moment; returns the responses' (status, error)."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(index, client, headers, body):
        try:
            barrier.wait(timeout=60)
            r = client.post("/api/v1/appointments", headers=headers, json=body)
            results[index] = (r.status_code, (r.json or {}).get("error"))
        except Exception as err:  # surfaced by the assertions
            results[index] = ("exception", repr(err))

    threads = [threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_30_residents_race_for_the_last_5_places(api, world, app):
    freeze(NOW)
    slot = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=8)
    for i in range(8 - REMAINING):
        resident_id = add_resident(app, world, f"early{i}", f"早到{i}", world.a, date(1970, 1, 1 + i))
        booked(api, "a-doc", slot["id"], resident_id)
    logins = []
    for i in range(THREADS):
        add_resident(
            app,
            world,
            f"racer{i}",
            f"抢号{i}",
            world.a,
            date(1960 + i % 30, 3, 1 + i % 28),
            sex="female" if i % 2 else "male",
        )
        logins.append(_resident_login(app, i, f"racer-{i}", world.names[f"racer{i}"], world.numbers[f"racer{i}"]))

    results = _race(
        [(client, headers, {"slot_id": slot["id"], "service": "consultation"}) for client, headers in logins]
    )

    assert Counter(results) == {(201, None): REMAINING, (409, "slot_full"): THREADS - REMAINING}, results
    with app.app_context():
        assert db.session.scalar(select(Slot.booked).where(Slot.id == slot["id"])) == 8
        assert (
            db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot["id"]))
            == 8
        )
    r = api.get("a-doc", f"/api/v1/slots/{slot['id']}")
    assert (r.json["booked"], r.json["available"]) == (8, 0)


def test_one_person_racing_for_several_slots_the_same_day_gets_one(api, world, app):
    freeze(NOW)
    slots = [
        publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 8 + i), hours=1)["id"] for i in range(10)
    ]
    api.resident_token("alice")  # binds the account once; every phone below logs in to it
    logins = [_resident_login(app, 100 + i, "alice") for i in range(len(slots))]

    results = _race(
        [(client, headers, {"slot_id": slot_id}) for (client, headers), slot_id in zip(logins, slots, strict=True)]
    )

    assert Counter(results) == {(201, None): 1, (409, "double_booking"): len(slots) - 1}, results
    with app.app_context():
        assert db.session.scalar(select(func.sum(Slot.booked))) == 1  # the losers' places were given back
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_crossing_reschedules_neither_deadlock_nor_lose_a_place(api, world, app):
    """Half move X → Y while the other half move Y → X, all at once: every move succeeds
    (rows are locked in one order: the appointment, then the slots by id)."""
    freeze(NOW)
    x = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 9), capacity=16)
    y = publish(api, "a-doc", world.team_a, "consultation", cst(2025, 9, 23, 14), capacity=16)
    moves = []
    for i in range(16):
        resident_id = add_resident(app, world, f"mover{i}", f"改约{i}", world.a, date(1980, 1, 1 + i))
        source, target = (x, y) if i % 2 else (y, x)
        appointment = booked(api, "a-doc", source["id"], resident_id)
        moves.append((appointment["id"], target["id"]))
    headers = api.as_("a-doc")
    barrier = threading.Barrier(len(moves))
    results: list = [None] * len(moves)

    def run(index, appointment_id, slot_id):
        client = _client(app, 200 + index)
        barrier.wait(timeout=60)
        r = client.post(f"/api/v1/appointments/{appointment_id}/reschedule", headers=headers, json={"slot_id": slot_id})
        results[index] = (r.status_code, (r.json or {}).get("error"))

    threads = [threading.Thread(target=run, args=(i, *move)) for i, move in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(results) == {(201, None): len(moves)}, results
    with app.app_context():
        assert dict(db.session.execute(select(Slot.id, Slot.booked)).all()) == {x["id"]: 8, y["id"]: 8}
        assert (
            db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.status == "booked")) == 16
        )
