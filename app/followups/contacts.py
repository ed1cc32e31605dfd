"""Contact attempts on worklist entries, and the review of what they report.

A doctor records each call, message or home visit made about an entry (an open plan): how, what came
of it, when to call back. ``call_later`` takes the entry off the worklists until the call-back day
(the plan's ``snoozed_until``); ``refused`` keeps it there with the reason. ``moved_away`` and
``died`` change nothing by themselves — a phone call is not a death certificate: they put the
resident on the review list of their institution's admins, whose confirmation closes the archive
(status and date, which the indicators honour) and every open plan.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import bindparam, select, update

from app.access.scope import get_institution, get_resident, get_team_resident, institution_ids_clause
from app.accounts.models import Staff
from app.audit import services as audit
from app.common.pagination import page_body, paginate
from app.common.time import now, today
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.followups.models import REFERRAL_CHASE, REVIEWED_OUTCOMES, ContactAttempt, FollowupPlan
from app.followups.worklist import programme_of
from app.residents import services as residents
from app.residents.models import Resident

MAX_CALL_BACK_DAYS = 90


def _check(data: dict, day: date) -> None:
    outcome, call_back = data["outcome"], data.get("call_back_on")
    if outcome == "call_later":
        if call_back is None:
            raise Invalid("call_back_on", "required when the outcome is call_later")
        if not day < call_back <= day + timedelta(days=MAX_CALL_BACK_DAYS):
            raise Invalid("call_back_on", f"must be after today and at most {MAX_CALL_BACK_DAYS} days ahead")
    elif call_back is not None:
        raise Invalid("call_back_on", "only with the outcome call_later")
    if outcome == "refused" and not (data.get("note") or "").strip():
        raise Invalid("note", "required when the outcome is refused: the reason the resident gave")


def _entry(actor, plan_id: int) -> tuple[FollowupPlan, Resident]:
    """The open plan and its resident, if the caller runs the resident's team — else 404."""
    plan = db.session.get(FollowupPlan, plan_id)
    if plan is None or plan.status != "open":
        raise NotFound("worklist entry not found")
    try:
        return plan, get_team_resident(actor, plan.resident_id)
    except NotFound:
        raise NotFound("worklist entry not found") from None


def record_contact(actor, plan_id: int, data: dict) -> dict:
    """POST /worklist/{plan_id}/contacts."""
    day = today()
    plan, resident = _entry(actor, plan_id)
    _check(data, day)
    contact = ContactAttempt(
        plan_id=plan.id,
        resident_id=resident.id,
        institution_id=resident.institution_id,
        programme=programme_of(plan.disease, plan.kind),
        due_on=plan.due_on,
        method=data["method"],
        outcome=data["outcome"],
        call_back_on=data.get("call_back_on"),
        note=data.get("note"),
        contacted_on=day,
        contacted_by_id=actor.id,
        review_status="pending" if data["outcome"] in REVIEWED_OUTCOMES else None,
    )
    db.session.add(contact)
    if contact.outcome == "call_later":
        plan.snoozed_until = contact.call_back_on
    elif (
        plan.disease != REFERRAL_CHASE
    ):  # reached after all: the entry is back (a referral's wait is not the resident's)
        plan.snoozed_until = None
    audit.record(actor, resident.id, action="create", section="contacts", purpose="follow_up")
    db.session.flush()
    return present(contact, actor.display)


def present(contact, staff_name: str | None) -> dict:
    """``contact``: a ContactAttempt, or a row of its columns."""
    return {
        "id": contact.id,
        "contacted_on": contact.contacted_on,
        "method": contact.method,
        "outcome": contact.outcome,
        "call_back_on": contact.call_back_on,
        "note": contact.note,
        "plan_id": contact.plan_id,
        "resident_id": contact.resident_id,
        "programme": contact.programme,
        "due_on": contact.due_on,
        "overdue": contact.due_on < contact.contacted_on,
        "contacted_by": staff_name,
        "review_status": contact.review_status,
        "review_note": contact.review_note,
        "effective_on": contact.effective_on,
    }


def _with_names(stmt):
    return stmt.add_columns(Staff.name).join(Staff, Staff.id == ContactAttempt.contacted_by_id)


_C = ContactAttempt.__table__
# built once, read as Core rows (the archive reads it on every request)
_LATEST_CONTACTS = (
    select(*_C.c, Staff.__table__.c.name.label("contacted_by_name"))
    .join(Staff.__table__, Staff.__table__.c.id == _C.c.contacted_by_id)
    .where(_C.c.resident_id == bindparam("rid"))
    .order_by(_C.c.id.desc())
    .limit(bindparam("limit"))
)


def contacts_of(resident_id: int, limit: int) -> list[dict]:
    """A resident's latest ``limit`` contact attempts, newest first (the archive's ``contacts``)."""
    rows = db.session.connection().execute(_LATEST_CONTACTS, {"rid": resident_id, "limit": limit}).all()
    return [present(row, row.contacted_by_name) for row in rows]


def resident_contacts(actor, resident_id: int, args: dict) -> dict:
    """GET /residents/{rid}/contacts: staff in scope; written to the resident's access log."""
    resident = get_resident(actor, resident_id)
    stmt = (
        _with_names(select(ContactAttempt))
        .where(ContactAttempt.resident_id == resident.id)
        .order_by(ContactAttempt.id.desc())
    )
    rows, total = paginate(stmt, args["page"], args["per_page"], scalars=False)
    audit.record(actor, resident.id, action="read", section="contacts", purpose="follow_up")
    return page_body([present(c, name) for c, name in rows], args["page"], args["per_page"], total)


# --- the review of moved_away / died ------------------------------------------------------------


def review_list(actor, args: dict) -> dict:
    """GET /contact-reviews: the reports of the caller's institution subtree (or one institution of it)."""
    stmt = (
        _with_names(select(ContactAttempt, Resident))
        .join(Resident, Resident.id == ContactAttempt.resident_id)
        .where(
            ContactAttempt.review_status == args["status"],
            institution_ids_clause(actor, ContactAttempt.institution_id),
        )
        .order_by(ContactAttempt.id)
    )
    if args.get("institution_id") is not None:
        stmt = stmt.where(ContactAttempt.institution_id == get_institution(actor, args["institution_id"]).id)
    rows, total = paginate(stmt, args["page"], args["per_page"], scalars=False)
    items = []
    for contact, resident, name in rows:
        item = present(contact, name)
        item["resident"] = {
            "id": resident.id,
            "name": resident.name,
            "archive_no": resident.archive_no,
            "status": resident.status,
            "institution_id": resident.institution_id,
        }
        items.append(item)
    audit.record_many(
        actor,
        list(dict.fromkeys(c.resident_id for c, _, _ in rows)),
        action="read",
        section="contacts",
        purpose="archive_management",
    )
    return page_body(items, args["page"], args["per_page"], total)


def _pending(actor, contact_id: int) -> ContactAttempt:
    contact = db.session.scalar(
        select(ContactAttempt).where(
            ContactAttempt.id == contact_id,
            ContactAttempt.review_status.is_not(None),
            institution_ids_clause(actor, ContactAttempt.institution_id),
        )
    )
    if contact is None:
        raise NotFound("contact review not found")
    if contact.review_status != "pending":
        raise Conflict("this report was already reviewed", error="already_reviewed")
    return contact


def _decide(actor, contact: ContactAttempt, status: str, note: str | None, effective_on: date | None = None) -> None:
    """Move a pending review to ``status`` — one conditional UPDATE, so two admins deciding at once
    get one success and one 409."""
    done = db.session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == contact.id, ContactAttempt.review_status == "pending")
        .values(
            review_status=status,
            reviewed_by_id=actor.id,
            reviewed_at=now(),
            review_note=note,
            effective_on=effective_on,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Conflict("this report was already reviewed", error="already_reviewed")
    db.session.refresh(contact)
    audit.record(actor, contact.resident_id, action="update", section="contacts", purpose="archive_management")


def confirm(actor, contact_id: int, data: dict) -> dict:
    """POST /contact-reviews/{id}/confirm: the archive closes (moved / deceased, on ``effective_on``) and
    every open plan with it; the resident's other pending reports are settled by this one."""
    contact = _pending(actor, contact_id)
    day = today()
    effective_on = data.get("effective_on") or contact.contacted_on
    if effective_on > day:
        raise Invalid("effective_on", "must not be in the future")
    resident = db.session.get(Resident, contact.resident_id)
    if resident.birth_on is not None and effective_on < resident.birth_on:
        raise Invalid("effective_on", "must not be before the resident's birth")
    if resident.status != "active":
        raise Conflict(f"the archive is already closed ({resident.status})", error="archive_closed")
    _decide(actor, contact, "confirmed", data.get("note"), effective_on)
    status = REVIEWED_OUTCOMES[contact.outcome]
    residents.update_resident(actor, resident, {"status": status, "status_changed_on": effective_on})
    db.session.execute(
        update(FollowupPlan)
        .where(FollowupPlan.resident_id == resident.id, FollowupPlan.status == "open")
        .values(status="closed", closed_on=day, close_reason=status, updated_at=now())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.resident_id == resident.id, ContactAttempt.review_status == "pending")
        .values(
            review_status="dismissed",
            reviewed_by_id=actor.id,
            reviewed_at=now(),
            review_note=f"settled by the confirmed report {contact.id}",
        )
        .execution_options(synchronize_session=False)
    )
    return _reviewed(contact)


def dismiss(actor, contact_id: int, data: dict) -> dict:
    """POST /contact-reviews/{id}/dismiss: the report was wrong; the archive stays as it is."""
    contact = _pending(actor, contact_id)
    _decide(actor, contact, "dismissed", data["note"])
    return _reviewed(contact)


def _reviewed(contact: ContactAttempt) -> dict:
    name = db.session.scalar(select(Staff.name).where(Staff.id == contact.contacted_by_id))
    return present(contact, name)
