"""Family access (proxy): asking, accepting, confirming in person, revoking — and the scope hook
(:func:`granted_resident_ids`, registered in ``access.family_hooks`` by ``app.wiring``).

PIPL: health data and a child's data are sensitive (art. 28); a child under 14 is consented for
by the guardian (art. 31), anyone else consents for themself (art. 29). So:

- an adult account holder sees a child under 14 *of the same household* at once (``guardian_auto``);
- anyone else only after that person accepts on their own bound account, or staff confirm in
  person (for a child under 14 outside the household: in person only);
- at 14 the guardian's automatic access ends — at read time at once, and the daily job turns the
  grant into a request the young person can accept;
- either side may revoke; a grant opens exactly one archive (never the relative's own grants).

Every grant event is written to the subject's access log (section ``family_grant``).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_resident
from app.accounts import throttles
from app.audit import services as audit
from app.common.time import age_on, local_tz, now, today, years_before
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.family.models import GUARDIAN_RELATIONS, FamilyGrant
from app.family.schemas import GrantOut
from app.notify import services as notify
from app.residents.models import Resident

log = logging.getLogger(__name__)

CHILD_CONSENT_AGE = 14  # PIPL art. 31
ADULT_AGE = 18
REQUEST_TTL_DAYS = 30  # a request nobody answered expires
LIVE = ("pending", "active")


# --- rules ---------------------------------------------------------------------------------


def outgrown_clause(day):
    """SQL: an active guardian_auto grant whose child is now 14 or older (over ``Resident`` = subject)."""
    return and_(
        FamilyGrant.status == "active",
        FamilyGrant.basis == "guardian_auto",
        Resident.birth_on <= years_before(day, CHILD_CONSENT_AGE),
    )


def effective_status(grant: FamilyGrant, subject_birth_on, *, at=None, day=None) -> str:
    """The status as it holds right now, before the daily job has stored it."""
    at, day = at or now(), day or today()
    if (
        grant.status == "active"
        and grant.basis == "guardian_auto"
        and age_on(subject_birth_on, day) >= CHILD_CONSENT_AGE
    ):
        return "pending"
    if grant.status == "pending" and grant.requested_at < at - timedelta(days=REQUEST_TTL_DAYS):
        return "expired"
    return grant.status


def awaiting(status: str, subject_birth_on, day=None) -> str | None:
    if status != "pending":
        return None
    return "staff" if age_on(subject_birth_on, day or today()) < CHILD_CONSENT_AGE else "resident"


# --- the scope hook ------------------------------------------------------------------------


def granted_resident_ids(actor) -> list[int]:
    """Archives this account may view through active grants (an ``access.family_hooks.GRANTED`` hook).

    The account must still be bound to the archive it granted from, and a guardian's automatic
    grant stops at the child's 14th birthday even before the daily job has run.
    """
    if actor is None or actor.is_staff or actor.resident_id is None:
        return []
    day = today()
    stmt = (
        select(FamilyGrant.resident_id)
        .join(Resident, Resident.id == FamilyGrant.resident_id)
        .where(
            FamilyGrant.grantor_account_id == actor.id,
            FamilyGrant.grantor_resident_id == actor.resident_id,
            FamilyGrant.status == "active",
            or_(FamilyGrant.basis != "guardian_auto", Resident.birth_on > years_before(day, CHILD_CONSENT_AGE)),
        )
    )
    return list(db.session.scalars(stmt))


# --- helpers -------------------------------------------------------------------------------


def _bound(actor) -> int:
    if actor.resident_id is None:
        raise Forbidden("bind your own archive first", error="account_not_bound")
    return actor.resident_id


def _log(actor, grant: FamilyGrant, *, action: str, display: str | None = None, purpose="family_access"):
    """One access-log row on the subject's archive for a grant event."""
    if actor is not None and not actor.is_staff and display:
        target = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
        actor = dataclasses.replace(target, display=display)
    audit.record(actor, grant.resident_id, action=action, section="family_grant", purpose=purpose)


def _notify(recipient_resident_id: int, kind: str, dedup_key: str, payload: dict) -> None:
    notify.enqueue(notify.resident(recipient_resident_id), kind, dedup_key, payload)


def _local(at) -> str:
    return at.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")


def _name_of(resident_id: int) -> str | None:
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


# --- the account holder's side -------------------------------------------------------------


def request_access(actor, name: str, id_number: str, relation: str) -> tuple[FamilyGrant, Resident]:
    """POST /me/family: a child under 14 of the same household → active; anyone else → pending."""
    grantor_id = _bound(actor)
    # The same lookup and the same guessing budget as binding: one budget per account and target.
    subject = throttles.claimed_archive(actor.id, name, id_number)
    if subject.id == grantor_id:
        raise Invalid("id_number", "this is your own archive")
    existing = db.session.scalar(
        select(FamilyGrant).where(
            FamilyGrant.grantor_account_id == actor.id,
            FamilyGrant.resident_id == subject.id,
            FamilyGrant.status.in_(LIVE),
        )
    )
    if existing is not None and effective_status(existing, subject.birth_on) != "expired":
        raise Conflict("you already have a grant or a request for this person", error="grant_exists")
    if existing is not None:  # an unanswered request past its time: close it, ask afresh
        existing.status, existing.expired_at = "expired", now()
        db.session.flush()
    grantor = db.session.get(Resident, grantor_id)
    day, at = today(), now()
    guardian = (
        relation in GUARDIAN_RELATIONS
        and grantor.household_id is not None
        and grantor.household_id == subject.household_id
        and age_on(subject.birth_on, day) < CHILD_CONSENT_AGE
        and age_on(grantor.birth_on, day) >= ADULT_AGE
    )
    grant = FamilyGrant(
        grantor_account_id=actor.id,
        grantor_resident_id=grantor_id,
        resident_id=subject.id,
        relation=relation,
        origin="request",
        requested_at=at,
        status="active" if guardian else "pending",
        basis="guardian_auto" if guardian else None,
        accepted_at=at if guardian else None,
    )
    db.session.add(grant)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent identical request
        db.session.rollback()
        raise Conflict("you already have a grant or a request for this person", error="grant_exists") from None
    _log(actor, grant, action="create", display=grantor.name)
    if not guardian and age_on(subject.birth_on, day) >= CHILD_CONSENT_AGE:
        _notify(
            subject.id,
            "family_request",
            f"family-grant:{grant.id}:request",
            {
                "title": "家人申请查看您的健康档案",
                "body": f"{grantor.name}申请查看您的健康档案，请在“家人”中处理",
                "requester": grantor.name,
                "when": _local(at),
            },
        )
    log.info("family grant %s %s", grant.id, grant.status)
    return grant, subject


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


def me_section(actor, resident, body: dict) -> None:
    """ME_SECTIONS hook: GET /me carries the family list."""
    body["family"] = GrantOut(many=True).dump(my_family(actor))


# --- the subject's side --------------------------------------------------------------------


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
    _bound(actor)
    items = [_present_request(*row) for row in db.session.execute(_about_me(actor)).all()]
    return [item for item in items if item["status"] == "pending"]


def viewers_of_me(actor) -> list[dict]:
    """GET /me/family/viewers: who may view my archive now, or has asked to."""
    _bound(actor)
    items = [_present_request(*row) for row in db.session.execute(_about_me(actor)).all()]
    return [item for item in items if item["status"] in LIVE]


def _activate(grant: FamilyGrant, basis: str, at) -> None:
    grant.status, grant.basis, grant.accepted_at = "active", basis, at


def accept(actor, grant_id: int) -> tuple[FamilyGrant, Resident]:
    """The person whose archive it is accepts, on their own bound account."""
    subject_id = _bound(actor)
    grant = db.session.scalar(
        select(FamilyGrant).where(FamilyGrant.id == grant_id, FamilyGrant.resident_id == subject_id)
    )
    if grant is None:
        raise NotFound("no such request")
    subject = db.session.get(Resident, subject_id)
    status = effective_status(grant, subject.birth_on)
    if status == "expired":
        raise Conflict("this request has expired; it can be asked again", error="request_expired")
    if status != "pending":
        raise Conflict(f"this grant is {status}", error="grant_not_pending")
    if age_on(subject.birth_on, today()) < CHILD_CONSENT_AGE:
        raise Conflict(
            "for a child under 14 a guardian confirms in person at the clinic", error="guardian_consent_required"
        )
    at = now()
    _activate(grant, "accepted", at)
    db.session.flush()
    _log(actor, grant, action="update")
    _notify(
        grant.grantor_resident_id,
        "family_grant_active",
        f"family-grant:{grant.id}:active:{int(at.timestamp())}",
        {
            "title": "家人同意了您的查看申请",
            "body": f"您现在可以查看{subject.name}的健康档案",
            "person": subject.name,
            "when": _local(at),
        },
    )
    return grant, subject


def revoke(actor, grant_id: int) -> None:
    """Either side ends a grant or a request (the subject's "decline" is the same)."""
    parties = [FamilyGrant.grantor_account_id == actor.id]
    if actor.resident_id is not None:
        parties.append(FamilyGrant.resident_id == actor.resident_id)
    grant = db.session.scalar(select(FamilyGrant).where(FamilyGrant.id == grant_id, or_(*parties)))
    if grant is None:
        raise NotFound("no such grant")
    if grant.status not in LIVE:
        return  # already ended: DELETE is idempotent
    grant.status, grant.revoked_at = "revoked", now()
    grant.revoked_by = "grantor" if grant.grantor_account_id == actor.id else "resident"
    db.session.flush()
    display = _name_of(grant.grantor_resident_id) if grant.revoked_by == "grantor" else None
    _log(actor, grant, action="update", display=display)


# --- staff -----------------------------------------------------------------------------------


def confirm_in_person(actor, grant_id: int, note: str | None) -> tuple[FamilyGrant, Resident]:
    """Staff in scope of the archive confirm a pending request in person (recorded who and when)."""
    grant = db.session.get(FamilyGrant, grant_id)
    try:
        if grant is None:
            raise NotFound()
        subject = get_resident(actor, grant.resident_id)
    except NotFound:  # outside the staff member's scope reads exactly like no such grant
        raise NotFound("no such grant") from None
    status = effective_status(grant, subject.birth_on)
    if status == "expired":
        raise Conflict("this request has expired; it can be asked again", error="request_expired")
    if status != "pending":
        raise Conflict(f"this grant is {status}", error="grant_not_pending")
    at = now()
    _activate(grant, "staff_confirmed", at)
    grant.confirmed_by_staff_id, grant.confirmed_at, grant.confirmation_note = actor.id, at, note
    db.session.flush()
    _log(actor, grant, action="update", purpose="administration")
    _notify(
        grant.grantor_resident_id,
        "family_grant_active",
        f"family-grant:{grant.id}:active:{int(at.timestamp())}",
        {
            "title": "家人查看权限已确认",
            "body": f"您现在可以查看{subject.name}的健康档案",
            "person": subject.name,
            "when": _local(at),
        },
    )
    return grant, subject


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
        grantor_name = _name_of(grant.grantor_resident_id)
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
    return _present_request(grant, _name_of(grant.grantor_resident_id), subject.birth_on)
