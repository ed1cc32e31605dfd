"""Helpers for the follow-up tests: the clock, posting visits, running the jobs, reading rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from app.common.time import frozen
from app.extensions import db

CST = timezone(timedelta(hours=8))
DAY = date(2026, 3, 10)  # the tests' "today" unless they move the clock


def morning(day: date, hour: int = 10) -> datetime:
    """A daytime instant on ``day`` in Asia/Shanghai (outside the dispatcher's quiet hours)."""
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=CST)


def post_visit(api, who, resident_id, disease, visit_on: date, method="clinic", **values):
    body = {"resident_id": resident_id, "disease": disease, "visit_on": visit_on.isoformat(), "method": method}
    body.update(values)
    return api.post(who, "/api/v1/followups", json=body)


def visit_ok(api, who, resident_id, disease, visit_on: date, method="clinic", **values) -> dict:
    r = post_visit(api, who, resident_id, disease, visit_on, method, **values)
    assert r.status_code == 201, r.json
    return r.json


def run(app, job, day: date, hour: int = 6):
    """Run a job function as the scheduler would on ``day`` (clock frozen at ``hour`` local)."""
    with frozen(morning(day, hour)), app.app_context():
        return job()


def chronic(counts: dict) -> dict:
    """A plan or reminder job's counts for the chronic follow-ups (the yearly, child and maternal left out)."""
    return {k: v for k, v in counts.items() if not k.startswith(("checkup", "child", "maternal", "referral"))}


def add_condition(app, resident_id: int, disease: str, diagnosed_on=date(2020, 1, 1)) -> None:
    from app.residents.models import Condition

    with app.app_context():
        db.session.add(Condition(resident_id=resident_id, disease=disease, diagnosed_on=diagnosed_on))
        db.session.commit()


def set_condition_active(app, resident_id: int, disease: str, active: bool) -> None:
    from app.residents.models import Condition

    with app.app_context():
        condition = db.session.scalar(select(Condition).filter_by(resident_id=resident_id, disease=disease))
        condition.active = active
        db.session.commit()


def plans(app, resident_id: int | None = None, status: str | None = None, programmes=None) -> list[dict]:
    """The plans (default: the chronic follow-ups' — the yearly checks have their own tests)."""
    from app.followups.models import MANAGED_DISEASES, FollowupPlan

    with app.app_context():
        stmt = select(FollowupPlan).order_by(FollowupPlan.id)
        stmt = stmt.where(FollowupPlan.disease.in_(programmes or MANAGED_DISEASES))
        if resident_id is not None:
            stmt = stmt.where(FollowupPlan.resident_id == resident_id)
        if status is not None:
            stmt = stmt.where(FollowupPlan.status == status)
        return [{c.name: getattr(p, c.name) for c in FollowupPlan.__table__.columns} for p in db.session.scalars(stmt)]


def outbox(app, kind: str | None = None) -> list[dict]:
    from app.notify.models import Outbox

    with app.app_context():
        stmt = select(Outbox).order_by(Outbox.id)
        if kind is not None:
            stmt = stmt.where(Outbox.kind == kind)
        return [
            {
                "dedup_key": o.dedup_key,
                "kind": o.kind,
                "recipient_kind": o.recipient_kind,
                "recipient_id": o.recipient_id,
                "payload": o.payload,
                "not_before": o.not_before,
                "status": o.status,
            }
            for o in db.session.scalars(stmt)
        ]


def make_resident(
    app,
    name: str,
    institution_id: int,
    team_id: int | None,
    diseases=(),
    birth_on=date(1960, 3, 3),
    diagnosed_on=date(2020, 1, 1),
    **extra,
) -> int:
    """A resident built directly (setup only; the behaviour under test goes through HTTP)."""
    from app.orgs.models import Institution, Team
    from app.residents.models import Condition
    from tests.factories import resident

    with app.app_context():
        institution = db.session.get(Institution, institution_id)
        team = db.session.get(Team, team_id) if team_id else None
        person = resident(name, institution, birth_on, team_=team, **extra)
        for disease in diseases:
            db.session.add(Condition(resident_id=person.id, disease=disease, diagnosed_on=diagnosed_on))
        db.session.commit()
        return person.id
