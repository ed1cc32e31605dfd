"""The referral lifecycle: issue → receive → return, or cancel — and what each step does to the plans.

Every change of state is one conditional UPDATE on the current status, so two doctors acting on
the same referral at once get one success and one 409 (``referral_state``).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import case, func, or_, select, union_all, update

from app.access.scope import get_team_resident
from app.accounts.models import Staff
from app.archive.models import HealthCheck, ServiceRecord
from app.audit import services as audit
from app.common.time import now, today
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.followups.models import REFERRAL_CHASE, REFERRAL_RETURN, FollowupPlan, FollowupVisit
from app.followups.plans import open_plan_once
from app.notify import services as notify
from app.orgs.models import Institution, TeamMember
from app.referrals.models import RETURN_FOLLOWUP_DAYS, UNRESOLVED, Referral
from app.referrals.notifications import URGENT_REFERRAL
from app.residents.models import Resident


def feedback_days() -> int:
    """How many days a hospital has to answer an up referral before the team is asked to chase it."""
    return current_app.config["REFERRAL_FEEDBACK_DAYS"]


def get_referral(actor, referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("referral not found")
    try:
        get_team_resident(actor, referral.resident_id)
    except NotFound:
        raise NotFound("referral not found") from None
    return referral


def _check_destination(actor, data: dict) -> None:
    to_id, name = data.get("to_institution_id"), (data.get("to_hospital_name") or "").strip()
    if (to_id is None) == (not name):
        raise Invalid("to_institution_id", "give exactly one of to_institution_id and to_hospital_name")
    if to_id is not None:
        if db.session.get(Institution, to_id) is None:
            raise Invalid("to_institution_id", "no such institution")
        if to_id == actor.institution_id:
            raise Invalid("to_institution_id", "a referral goes to another institution than the caller's")


def issue(actor, data: dict) -> Referral:
    """POST /referrals."""
    resident = get_team_resident(actor, data["resident_id"])
    if resident.status != "active":
        raise Invalid("resident_id", "this archive is not active (moved away or deceased)")
    _check_destination(actor, data)
    visit_id = data.get("source_visit_id")
    if visit_id is not None:
        visit = db.session.get(FollowupVisit, visit_id)
        if visit is None or visit.resident_id != resident.id:
            raise Invalid("source_visit_id", "no such follow-up visit of this resident")
    day = today()
    referral = Referral(
        resident_id=resident.id,
        team_id=resident.team_id,
        institution_id=actor.institution_id or resident.institution_id,
        direction=data["direction"],
        to_institution_id=data.get("to_institution_id"),
        to_hospital_name=(data.get("to_hospital_name") or "").strip() or None,
        reason=data["reason"],
        urgency=data.get("urgency") or "routine",
        source_visit_id=visit_id,
        status="issued",
        issued_on=day,
        issued_by_id=actor.id,
    )
    db.session.add(referral)
    db.session.flush()
    if referral.direction == "up":
        _chase(resident.id)
    if referral.urgency == "urgent":
        _notify_leaders(referral, resident)
    audit.record(actor, resident.id, action="create", section="referrals", purpose="care")
    return referral


def _chase(resident_id: int, closed_reason: str = "returned") -> None:
    """Keep the resident's one ``referral`` entry in step with their up referrals still unanswered: off
    the worklists until the earliest one's days for feedback are up, urgent if any of them is; closed
    when none is left."""
    earliest, urgent = db.session.execute(
        select(func.min(Referral.issued_on), func.max(case((Referral.urgency == "urgent", 1), else_=0))).where(
            Referral.resident_id == resident_id, Referral.direction == "up", Referral.status.in_(UNRESOLVED)
        )
    ).one()
    plan = _open_plan(resident_id, REFERRAL_CHASE)
    if earliest is None:
        if plan is not None:
            plan.status, plan.closed_on, plan.close_reason = "closed", today(), closed_reason
        return
    due = earliest + timedelta(days=feedback_days())
    values = {
        "opens_on": due,
        "due_on": due,
        "snoozed_until": due,
        "reason": "urgent" if urgent else "referral",
        "priority": 2 if urgent else 1,
    }
    if plan is None and open_plan_once(resident_id=resident_id, disease=REFERRAL_CHASE, **values):
        return
    plan = plan or _open_plan(resident_id, REFERRAL_CHASE)  # a concurrent request opened it
    for name, value in values.items():
        setattr(plan, name, value)


def _notify_leaders(referral: Referral, resident: Resident) -> None:
    """An urgent referral puts the team leader's inbox on notice — once per referral and leader."""
    leaders = db.session.scalars(
        select(TeamMember.staff_id)
        .join(Staff, Staff.id == TeamMember.staff_id)
        .where(TeamMember.team_id == resident.team_id, TeamMember.role == "leader_gp", Staff.active)
    ).all()
    where = referral.to_hospital_name or db.session.get(Institution, referral.to_institution_id).name
    for staff_id in leaders:
        notify.enqueue(
            notify.staff(staff_id),
            URGENT_REFERRAL.kind,
            f"referral:{referral.id}:urgent:to:{staff_id}",
            {
                "title": URGENT_REFERRAL.title,
                "body": f"{resident.name} 紧急转诊至 {where}：{referral.reason}",
                "referral_id": referral.id,
                "resident_id": resident.id,
            },
        )


def _move(referral: Referral, allowed: tuple[str, ...], **values) -> None:
    done = db.session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.status.in_(allowed))
        .values(updated_at=now(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Conflict(f"this referral is {referral.status}", error="referral_state")
    db.session.refresh(referral)


def _day(field: str, value: date | None, referral: Referral) -> date:
    day = today()
    value = value or day
    if value > day:
        raise Invalid(field, "must not be in the future")
    if value < referral.issued_on:
        raise Invalid(field, "must not be before the referral was issued")
    return value


def receive(actor, referral_id: int, data: dict) -> Referral:
    """POST /referrals/{id}/receive: the destination has the patient. A down referral's patient is
    then back with the team: the 2-week follow-up opens."""
    referral = get_referral(actor, referral_id)
    on = _day("received_on", data.get("received_on"), referral)
    values = {"status": "received", "received_on": on}
    if referral.direction == "down":
        values["back_on"] = on
    _move(referral, ("issued",), **values)
    if referral.direction == "down":
        _open_return(referral.resident_id, on)
        _seen_since(referral.resident_id, on)
    audit.record(actor, referral.resident_id, action="update", section="referrals", purpose="care")
    return referral


def return_(actor, referral_id: int, data: dict) -> Referral:
    """POST /referrals/{id}/return: the hospital's feedback (回转); the follow-up within 2 weeks opens."""
    referral = get_referral(actor, referral_id)
    if referral.direction != "up":
        raise Conflict("a down referral is received, not returned", error="referral_state")
    on = _day("returned_on", data["returned_on"], referral)
    if referral.received_on is not None and on < referral.received_on:
        raise Invalid("returned_on", "must not be before the referral was received")
    _move(
        referral,
        UNRESOLVED,
        status="returned",
        returned_on=on,
        back_on=on,
        received_on=referral.received_on or on,
        summary=data["summary"],
        advice=data.get("advice"),
    )
    _chase(referral.resident_id, "returned")
    _open_return(referral.resident_id, on)
    _seen_since(referral.resident_id, on)
    audit.record(actor, referral.resident_id, action="update", section="referrals", purpose="care")
    return referral


def cancel(actor, referral_id: int, data: dict) -> Referral:
    """POST /referrals/{id}/cancel."""
    referral = get_referral(actor, referral_id)
    # a down referral received is done: the patient is back with the team
    allowed = UNRESOLVED if referral.direction == "up" else ("issued",)
    _move(referral, allowed, status="cancelled", cancelled_on=today(), cancel_reason=data["reason"])
    _chase(referral.resident_id, "cancelled")
    audit.record(actor, referral.resident_id, action="update", section="referrals", purpose="care")
    return referral


def _open_plan(resident_id: int, programme: str) -> FollowupPlan | None:
    return db.session.scalar(
        select(FollowupPlan).where(
            FollowupPlan.resident_id == resident_id, FollowupPlan.disease == programme, FollowupPlan.status == "open"
        )
    )


def _open_return(resident_id: int, back_on: date) -> None:
    """The follow-up owed within 2 weeks of the patient's return (one open per resident: an earlier
    one still open keeps the earlier due date)."""
    due = back_on + timedelta(days=RETURN_FOLLOWUP_DAYS)
    plan = _open_plan(resident_id, REFERRAL_RETURN)
    if plan is None:
        values = {"opens_on": back_on, "due_on": due, "reason": "referral", "priority": 1}
        if open_plan_once(resident_id=resident_id, disease=REFERRAL_RETURN, **values):
            return
        plan = _open_plan(resident_id, REFERRAL_RETURN)  # a concurrent request opened it
    plan.due_on = min(plan.due_on, due)


def followed_up(resident_id: int, day: date) -> None:
    """A visit or service on ``day`` (entered now, or late for an earlier day): the return follow-up
    whose window had begun is done on the earliest such day, and so are the referrals it followed up."""
    plan = _open_plan(resident_id, REFERRAL_RETURN)
    if plan is not None and plan.opens_on <= day:
        plan.status, plan.closed_on, plan.close_reason = "done", day, "visit"
    else:  # a visit entered late, earlier than the one that closed the follow-up: it was the follow-up
        db.session.execute(
            update(FollowupPlan)
            .where(
                FollowupPlan.resident_id == resident_id,
                FollowupPlan.disease == REFERRAL_RETURN,
                FollowupPlan.status == "done",
                FollowupPlan.opens_on <= day,
                FollowupPlan.closed_on > day,
            )
            .values(closed_on=day, updated_at=now())
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(Referral)
        .where(
            Referral.resident_id == resident_id,
            Referral.back_on.is_not(None),
            Referral.back_on <= day,
            or_(Referral.followed_up_on.is_(None), Referral.followed_up_on > day),
        )
        .values(followed_up_on=day, updated_at=now())
        .execution_options(synchronize_session=False)
    )


def _seen_since(resident_id: int, back_on: date) -> None:
    """A return recorded after the fact: a follow-up visit, check or service record already on file
    since the patient came back was the follow-up."""
    seen = db.session.scalar(
        select(
            func.min(
                union_all(
                    select(FollowupVisit.visit_on.label("day")).where(
                        FollowupVisit.resident_id == resident_id, FollowupVisit.visit_on >= back_on
                    ),
                    select(HealthCheck.checked_on).where(
                        HealthCheck.resident_id == resident_id, HealthCheck.checked_on >= back_on
                    ),
                    select(ServiceRecord.served_on).where(
                        ServiceRecord.resident_id == resident_id, ServiceRecord.served_on >= back_on
                    ),
                )
                .subquery()
                .c.day
            )
        )
    )
    if seen is not None:
        followed_up(resident_id, seen)


def on_visit_recorded(sender, *, resident_id: int, visited_on: date, **_) -> None:
    """``events.visit_recorded``: any follow-up visit (phone included) is the return follow-up."""
    followed_up(resident_id, visited_on)


def on_service_delivered(sender, *, resident_id: int, served_on: date, source: str, **_) -> None:
    """``events.service_delivered``: a check or service record is one too (a follow-up visit is
    already announced as recorded)."""
    if source != "followup":
        followed_up(resident_id, served_on)
