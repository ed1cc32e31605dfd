"""Family access (proxy): asking, accepting, confirming in person, revoking — and the hooks the
feature offers: the scope hook (:func:`granted_resident_ids`, registered in
``access.family_hooks`` by ``app.wiring``) and the family list on GET /me (:func:`me_section`).
The rules are in ``app.family.rules``, the lists and presenters in ``app.family.reads``.

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

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_resident
from app.accounts import throttles
from app.accounts.models import WechatAccount
from app.audit import services as audit
from app.common.time import age_on, local_tz, now, today, years_before
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.family.models import GUARDIAN_RELATIONS, FamilyGrant
from app.family.reads import my_family, name_of
from app.family.rules import ADULT_AGE, CHILD_CONSENT_AGE, LIVE, bound_resident_id, effective_status
from app.family.schemas import GrantOut
from app.notify import services as notify
from app.residents.models import Resident

log = logging.getLogger(__name__)


# --- the hooks -----------------------------------------------------------------------------


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


def me_section(actor, resident, body: dict) -> None:
    """ME_SECTIONS hook: GET /me carries the family list."""
    body["family"] = GrantOut(many=True).dump(my_family(actor))


# --- helpers -------------------------------------------------------------------------------


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


def _activate(grant: FamilyGrant, basis: str, at) -> None:
    grant.status, grant.basis, grant.accepted_at = "active", basis, at


# --- the account holder's side -------------------------------------------------------------


def request_access(actor, name: str, id_number: str, relation: str) -> tuple[FamilyGrant, Resident]:
    """POST /me/family: a child under 14 of the same household → active; anyone else → pending."""
    grantor_id = bound_resident_id(actor)
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


# --- the subject's side --------------------------------------------------------------------


def accept(actor, grant_id: int) -> tuple[FamilyGrant, Resident]:
    """The person whose archive it is accepts, on their own bound account."""
    subject_id = bound_resident_id(actor)
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
    display = name_of(grant.grantor_resident_id) if grant.revoked_by == "grantor" else None
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


# The archives of children born to a resident, by feature (the maternal line: her deliveries' babies),
# each a function resident id -> child resident ids; filled by app.wiring.
BIRTH_CHILDREN: list = []


def _guardian_by_birth(actor, account_id: int, mother_resident_id: int, child_id: int) -> None:
    """The mother's account becomes her child's guardian (``guardian_auto``, origin ``birth``), unless it
    holds a live grant on the child already or the child is 14 or over (then the child consents)."""
    child = db.session.get(Resident, child_id)
    if child is None or age_on(child.birth_on, today()) >= CHILD_CONSENT_AGE:
        return
    live = db.session.scalar(
        select(FamilyGrant.id).where(
            FamilyGrant.grantor_account_id == account_id,
            FamilyGrant.resident_id == child_id,
            FamilyGrant.status.in_(LIVE),
        )
    )
    if live is not None:
        return
    at = now()
    db.session.add(
        FamilyGrant(
            grantor_account_id=account_id,
            grantor_resident_id=mother_resident_id,
            resident_id=child_id,
            relation="child",
            origin="birth",
            requested_at=at,
            status="active",
            basis="guardian_auto",
            accepted_at=at,
        )
    )
    db.session.flush()
    audit.record(actor, child_id, action="create", section="family_grant", purpose="care")


def on_baby_archived(sender, *, actor, mother_resident_id: int, baby_resident_id: int, **_) -> None:
    """``events.baby_archived`` listener: the account bound to the mother's archive becomes the baby's
    guardian at once (a newborn has no ID number to ask for it with)."""
    account_id = db.session.scalar(select(WechatAccount.id).where(WechatAccount.resident_id == mother_resident_id))
    if account_id is not None:
        _guardian_by_birth(actor, account_id, mother_resident_id, baby_resident_id)


def on_archive_bound(sender, *, account_id: int, resident_id: int, **_) -> None:
    """``events.archive_bound`` listener: a mother who binds her archive after her delivery becomes the
    guardian of the children she gave birth to, as if she had been bound then."""
    for children_of in BIRTH_CHILDREN:
        for child_id in children_of(resident_id):
            _guardian_by_birth(None, account_id, resident_id, child_id)
