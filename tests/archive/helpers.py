"""Helpers for the archive and family tests: extra residents, entries through the API, query counting."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from sqlalchemy import event, select

from app.audit.models import AccessLog
from app.extensions import db


@pytest.fixture(autouse=True)
def fresh_id_sequence():
    """Restart the factory's ID-number sequence for each test (the database is wiped anyway).

    ``tests.factories.resident`` adds 2 to a module-global counter for every resident it makes and
    formats it as the 3-digit sequence of the ID number, so after ~450 residents in one session the
    numbers get 4 digits and fail the checksum. Imported (autouse) by the archive and family tests.
    """
    from tests import factories

    factories._SEQ[0] = 100
    yield


def add_resident(
    app,
    world,
    key: str,
    name: str,
    institution_id: int,
    birth_on: date,
    *,
    sex="male",
    household_id: int | None = None,
    **extra,
) -> int:
    """Create a resident (through the factory) that ``api`` can log in as ``key``."""
    from app.orgs.models import Institution
    from app.residents.models import Household
    from tests.factories import resident

    with app.app_context():
        household = db.session.get(Household, household_id) if household_id else None
        person = resident(
            name, db.session.get(Institution, institution_id), birth_on, sex=sex, household=household, **extra
        )
        db.session.commit()
        world.ids[key] = person.id
        world.numbers[key] = person.id_number
        world.names[key] = name
        return person.id


def check(api, who, rid, checked_on, **fields):
    body = {"checked_on": str(checked_on), **fields}
    r = api.post(who, f"/api/v1/residents/{rid}/health-checks", json=body)
    assert r.status_code == 201, r.json
    return r.json


def record(api, who, rid, kind, served_on, **fields):
    r = api.post(
        who, f"/api/v1/residents/{rid}/service-records", json={"kind": kind, "served_on": str(served_on), **fields}
    )
    assert r.status_code == 201, r.json
    return r.json


def grant(api, who, person, relation, world):
    """``who`` asks to view ``person``'s archive; returns the response."""
    return api.post(
        who,
        "/api/v1/me/family",
        json={"name": world.names[person], "id_number": world.numbers[person], "relation": relation},
    )


def log_rows(app, resident_id, action=None):
    with app.app_context():
        stmt = select(AccessLog).where(AccessLog.subject_resident_id == resident_id)
        if action:
            stmt = stmt.where(AccessLog.action == action)
        rows = db.session.scalars(stmt.order_by(AccessLog.id)).all()
        db.session.expunge_all()
        return rows


@contextlib.contextmanager
def counting_queries(app):
    """Count SQL statements sent to the database inside the block (``before_cursor_execute``)."""
    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)
