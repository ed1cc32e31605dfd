"""Child health checks (儿童健康管理, 0–6 years): recording one — its kind derived from the child's age
when not given, refused with the reason outside every window — and the child's checks with the
schedule (``app.archive.child_schedule``).

A check is a delivery (履约) of the contract's child health check item and fulfils the child's plan
(``events.service_delivered``: the contracts and the plan engine listen). Growth is recorded without a
judgement against a growth standard for now (the WHO 2006 standard's tables would come from a
maintained package, e.g. ``rcpchgrowth``; see the README).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.archive import child_schedule
from app.archive.models import ChildCheck
from app.archive.services import present_child_check, read_purpose, record_service
from app.archive.view import CHILD_CHECKS, rows_of
from app.audit import services as audit
from app.common.time import today
from app.errors import Conflict, Invalid
from app.extensions import db
from app.residents.models import Resident
from app.residents.populations import CHILD_MAX_AGE


def _kind_for(resident: Resident, checked_on: date, given: str | None) -> child_schedule.ChildCheckKind:
    if checked_on > today():
        raise Invalid("checked_on", "cannot be in the future")
    if checked_on < resident.birth_on:
        raise Invalid("checked_on", "cannot be before the child's birth date")
    age = child_schedule.age_days(resident.birth_on, checked_on)
    if given is not None:
        kind = child_schedule.BY_KIND[given]
        if not kind.opens_day <= age <= kind.due_day:
            raise Invalid(
                "kind",
                f"{given} is done at {kind.opens_day}–{kind.due_day} days of age; on {checked_on} the child is {age}",
            )
        return kind
    kind = child_schedule.kind_at(resident.birth_on, checked_on)
    if kind is None:
        if age > child_schedule.KINDS[-1].due_day:
            raise Invalid(
                "checked_on", f"child health checks are for 0–{CHILD_MAX_AGE} years; the child is {age} days old"
            )
        raise Invalid("checked_on", child_schedule.nearest(resident.birth_on, checked_on))
    return kind


def create_child_check(actor, resident: Resident, data: dict) -> ChildCheck:
    """Store one check; a second check of the same kind is a 409 (correct the first instead)."""
    kind = _kind_for(resident, data["checked_on"], data.pop("kind", None))
    if data.get("tcm_guidance") and not kind.tcm:
        raise Invalid("tcm_guidance", "TCM guidance is part of the 6, 12, 18, 24, 30 and 36-month checks")
    exists = db.session.scalar(
        select(ChildCheck.id).where(ChildCheck.resident_id == resident.id, ChildCheck.kind == kind.kind)
    )
    if exists:
        raise Conflict(f"the {kind.kind} check of this child is already recorded", error="already_recorded")
    eye = data.pop("eye_check", None)
    check = ChildCheck(
        resident_id=resident.id,
        kind=kind.kind,
        age_days=child_schedule.age_days(resident.birth_on, data["checked_on"]),
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
        eye_checked=eye is not None,
        eye=eye,
        **data,
    )
    db.session.add(check)
    db.session.flush()
    record_service(
        actor, resident.id, "child_health_check", check.checked_on, source="child_check", source_id=check.id,
        kind=check.kind,
    )  # fmt: skip
    return check


def child_checks(actor, resident: Resident) -> dict:
    """GET …/child-checks: every check (newest first) and the 0–6 schedule; one access-log row."""
    rows = rows_of(CHILD_CHECKS, resident.id)
    purpose = read_purpose(actor, resident.id, None)
    audit.record(actor, resident.id, action="read", section="child_checks", purpose=purpose)
    done = {row.kind: row.checked_on for row in rows}
    return {
        "resident_id": resident.id,
        "items": [present_child_check(row, row.institution_name, row.doctor, child=resident) for row in rows],
        "schedule": child_schedule.schedule(resident.birth_on, done, today()),
    }
