"""Family access as the account holder, the person viewed and staff see it: the lists and how
a grant is shown to each (the changes are in ``app.family.services``)."""

from __future__ import annotations

from sqlalchemy import select

from app.access.scope import get_resident
from app.audit import services as audit
from app.extensions import db
from app.family.models import FamilyGrant
from app.family.rules import LIVE, awaiting, bound_resident_id, effective_status
from app.residents.models import Resident


def name_of(resident_id: int) -> str | None:
    return db.session.scalar(select(Resident.name).where(Resident.id == resident_id))


def present_grant(grant: FamilyGrant, subject: Resident | None = None, *, name=None, birth_on=None) -> dict:
    name = name if name is not None else subject.name
    birth_on = birth_on if birth_on is not None else subject.birth_on
    status = effective_status(grant, birth_on)
    return {
        "grant_id": grant.id,
        "resident_id": grant.resident_id,
        "name": name,
        "relation": grant.relation,
        "status": status,
        "basis": None if status == "pending" else grant.basis,
        "origin": grant.origin,
        "awaiting": awaiting(status, birth_on),
        "requested_at": grant.requested_at,
        "accepted_at": grant.accepted_at if status == "active" else None,
    }


def my_family(actor) -> list[dict]:
    """GET /me/family: people this account may view or has asked to view (live grants)."""
    if actor.resident_id is None:
        return []
    rows = db.session.execute(
        select(FamilyGrant, Resident.name, Resident.birth_on)
        .join(Resident, Resident.id == FamilyGrant.resident_id)
        .where(
            FamilyGrant.grantor_account_id == actor.id,
            FamilyGrant.grantor_resident_id == actor.resident_id,
            FamilyGrant.status.in_(LIVE),
        )
        .order_by(FamilyGrant.id)
    ).all()
    items = [present_grant(g, name=name, birth_on=birth_on) for g, name, birth_on in rows]
    return [item for item in items if item["status"] in LIVE]


def _about_me(actor, statuses=LIVE):
    grantor = Resident.__table__.alias("grantor")
    return (
        select(FamilyGrant, grantor.c.name, Resident.birth_on)
        .join(grantor, grantor.c.id == FamilyGrant.grantor_resident_id)
        .join(Resident, Resident.id == FamilyGrant.resident_id)
        .where(FamilyGrant.resident_id == actor.resident_id, FamilyGrant.status.in_(statuses))
        .order_by(FamilyGrant.requested_at.desc(), FamilyGrant.id.desc())
    )


def _present_request(grant, requester_name, birth_on) -> dict:
    status = effective_status(grant, birth_on)
    return {
        "grant_id": grant.id,
        "name": requester_name,
        "relation": grant.relation,
        "status": status,
        "basis": None if status == "pending" else grant.basis,
        "origin": grant.origin,
        "requested_at": grant.requested_at,
        "accepted_at": grant.accepted_at if status == "active" else None,
    }


def requests_for_me(actor) -> list[dict]:
    """GET /me/family/requests: pending requests to view my archive."""
    bound_resident_id(actor)
    items = [_present_request(*row) for row in db.session.execute(_about_me(actor)).all()]
    return [item for item in items if item["status"] == "pending"]


def viewers_of_me(actor) -> list[dict]:
    """GET /me/family/viewers: who may view my archive now, or has asked to."""
    bound_resident_id(actor)
    items = [_present_request(*row) for row in db.session.execute(_about_me(actor)).all()]
    return [item for item in items if item["status"] in LIVE]


def grants_of_resident(actor, resident_id: int, status: str | None) -> list[dict]:
    """Staff: every grant opening this archive (for confirming in person, or checking who sees it)."""
    subject = get_resident(actor, resident_id)
    grantor = Resident.__table__.alias("grantor")
    rows = db.session.execute(
        select(FamilyGrant, grantor.c.name)
        .join(grantor, grantor.c.id == FamilyGrant.grantor_resident_id)
        .where(FamilyGrant.resident_id == subject.id)
        .order_by(FamilyGrant.requested_at.desc(), FamilyGrant.id.desc())
    ).all()
    items = [present_for_staff(grant, grantor_name, subject.birth_on) for grant, grantor_name in rows]
    if status:
        items = [item for item in items if item["status"] == status]
    audit.record(actor, subject.id, action="read", section="family_grants", purpose="administration")
    return items


def present_for_staff(grant: FamilyGrant, grantor_name: str | None = None, subject_birth_on=None) -> dict:
    if grantor_name is None:
        grantor_name = name_of(grant.grantor_resident_id)
    if subject_birth_on is None:
        subject_birth_on = db.session.scalar(select(Resident.birth_on).where(Resident.id == grant.resident_id))
    effective = effective_status(grant, subject_birth_on)
    return {
        "grant_id": grant.id,
        "resident_id": grant.resident_id,
        "grantor_resident_id": grant.grantor_resident_id,
        "grantor_name": grantor_name,
        "relation": grant.relation,
        "status": effective,
        "basis": None if effective == "pending" else grant.basis,
        "origin": grant.origin,
        "requested_at": grant.requested_at,
        "accepted_at": grant.accepted_at,
        "confirmed_by_staff_id": grant.confirmed_by_staff_id,
        "confirmed_at": grant.confirmed_at,
        "confirmation_note": grant.confirmation_note,
        "revoked_at": grant.revoked_at,
        "revoked_by": grant.revoked_by,
    }


def present_for_subject(grant: FamilyGrant, subject: Resident) -> dict:
    return _present_request(grant, name_of(grant.grantor_resident_id), subject.birth_on)
