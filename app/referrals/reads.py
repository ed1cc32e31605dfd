"""Reading referrals: one presented shape for the lists, the resident's view and the archive section."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from app.access.scope import get_managed_team, get_resident, resident_clause
from app.audit import services as audit
from app.common.pagination import page_body, paginate
from app.common.time import today
from app.errors import Invalid
from app.extensions import db
from app.orgs.models import Institution
from app.referrals.models import RETURN_FOLLOWUP_DAYS, Referral
from app.residents.models import Resident

_TO = aliased(Institution)


def _named(stmt):
    return stmt.add_columns(_TO.name).outerjoin(_TO, _TO.id == Referral.to_institution_id)


def present(referral, to_name: str | None = None) -> dict:
    """``referral``: a Referral, or a row of its columns."""
    day = today()
    if to_name is None and referral.to_institution_id is not None:
        to_name = db.session.scalar(select(Institution.name).where(Institution.id == referral.to_institution_id))
    return_due = referral.back_on + timedelta(days=RETURN_FOLLOWUP_DAYS) if referral.back_on else None
    return {
        "id": referral.id,
        "resident_id": referral.resident_id,
        "team_id": referral.team_id,
        "direction": referral.direction,
        "to_institution_id": referral.to_institution_id,
        "to_hospital_name": referral.to_hospital_name,
        "destination": referral.to_hospital_name or to_name,
        "reason": referral.reason,
        "urgency": referral.urgency,
        "source_visit_id": referral.source_visit_id,
        "status": referral.status,
        "issued_on": referral.issued_on,
        "received_on": referral.received_on,
        "returned_on": referral.returned_on,
        "summary": referral.summary,
        "advice": referral.advice,
        "cancelled_on": referral.cancelled_on,
        "cancel_reason": referral.cancel_reason,
        "waiting_days": (day - referral.issued_on).days if _waiting(referral) else None,
        "return_followup_due_on": return_due,
        "followed_up_on": referral.followed_up_on,
    }


def _waiting(referral: Referral) -> bool:
    """Still waiting for the other side: issued, or an up referral received but not yet answered."""
    return referral.status == "issued" or (referral.status == "received" and referral.direction == "up")


def team_referrals(actor, args: dict) -> dict:
    """GET /referrals: a team's referrals (default: the caller's teams), newest first."""
    if args.get("team_id") is not None:
        teams = [get_managed_team(actor, args["team_id"]).id]
    elif actor.team_ids:
        teams = list(actor.team_ids)
    else:
        raise Invalid("team_id", "required: you are not a member of any team")
    stmt = (
        _named(select(Referral))
        .join(Resident, Resident.id == Referral.resident_id)
        .where(Resident.team_id.in_(teams), resident_clause(actor))
        .order_by(Referral.id.desc())
    )
    if args.get("status"):
        stmt = stmt.where(Referral.status == args["status"])
    rows, total = paginate(stmt, args["page"], args["per_page"], scalars=False)
    audit.record_many(
        actor, list(dict.fromkeys(r.resident_id for r, _ in rows)), action="read", section="referrals", purpose="care"
    )
    return page_body([present(r, name) for r, name in rows], args["page"], args["per_page"], total)


_R, _TO_TABLE = Referral.__table__, Institution.__table__.alias("to_institution")
# built once, read as Core rows (the archive reads it on every request)
_LATEST = (
    select(*_R.c, _TO_TABLE.c.name.label("to_name"))
    .outerjoin(_TO_TABLE, _TO_TABLE.c.id == _R.c.to_institution_id)
    .where(_R.c.resident_id == bindparam("rid"))
    .order_by(_R.c.id.desc())
    .limit(bindparam("limit"))
)


def referrals_of(resident_id: int, limit: int) -> list[dict]:
    """A resident's latest ``limit`` referrals, newest first (the archive's ``referrals``)."""
    rows = db.session.connection().execute(_LATEST, {"rid": resident_id, "limit": limit}).all()
    return [present(row, row.to_name) for row in rows]


def resident_referrals(actor, resident_id: int, args: dict) -> dict:
    """GET /residents/{rid}/referrals: the resident, a granted family member or staff in scope; logged."""
    resident = get_resident(actor, resident_id)
    stmt = _named(select(Referral)).where(Referral.resident_id == resident.id).order_by(Referral.id.desc())
    rows, total = paginate(stmt, args["page"], args["per_page"], scalars=False)
    audit.record(actor, resident.id, action="read", section="referrals")
    return page_body([present(r, name) for r, name in rows], args["page"], args["per_page"], total)


def archive_section(resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's "referrals", newest first (the archive writes the log row)."""
    return "referrals", referrals_of(resident.id, limit=args.get("per_page") or 10)
