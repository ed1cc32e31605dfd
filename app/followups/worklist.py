"""The doctor's worklists: the open plans of a team, most urgent first, one query per page —
``GET /followups/worklist`` (the chronic follow-ups, with each patient's last visit) and
``GET /worklist`` (every programme of the plan engine)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Date, and_, bindparam, case, exists, func, select, text
from sqlalchemy.orm import aliased

from app.access.scope import bound_resident_scope, get_managed_team
from app.audit import services as audit
from app.common.ids import mask_phone
from app.common.pagination import page_body
from app.common.time import age_on, today
from app.contracts.models import Contract
from app.contracts.periods import in_force_clause
from app.errors import Invalid
from app.extensions import db
from app.followups.models import (
    CHILD_PROGRAMME,
    NEWBORN_KIND,
    NEWBORN_PROGRAMME,
    ContactAttempt,
    FollowupPlan,
    FollowupVisit,
)
from app.followups.plans import managed_plan_clause, not_snoozed, plan_applies_clause, window_of
from app.residents.models import Resident


def _worklist_teams(actor, team_id: int | None) -> list[int]:
    if team_id is not None:
        return [get_managed_team(actor, team_id).id]
    if not actor.team_ids:
        raise Invalid("team_id", "required: you are not a member of any team")
    return list(actor.team_ids)


def worklist(actor, args: dict) -> dict:
    """GET /followups/worklist: one query (the page and the total), most urgent first.

    Order: priority (urgent referral, then referral pending), then the earliest due date (the most
    overdue first), then the plan id. Only patients still managed; only the requested teams.
    The page is cut in a subquery (plans ⋈ residents, ``count(*) over ()`` for the total) and only
    its rows are joined to their last visit, so the visits table is touched by primary key ≤ per_page
    times whatever the team's size. The statement is built once per shape of the request (which
    filters, which scope) with every value bound, and planned for its values on each run (see
    :func:`_plan_for_these_values`).
    """
    day = today()
    team_ids = _worklist_teams(actor, args.get("team_id"))
    status = args.get("status", "all")
    within = args.get("within_days")
    scope_key, scope_clause, params = bound_resident_scope(actor)
    shape = (scope_key, status, within is not None, bool(args.get("disease")), args.get("doctor") == "me")
    if shape not in _STATEMENTS:
        _STATEMENTS[shape] = _statements(scope_clause, *shape[1:])
    stmt, count = _STATEMENTS[shape]
    page, per_page = args["page"], args["per_page"]
    params.update(
        teams=team_ids,
        day=day,
        horizon=day + timedelta(days=within or 0),
        disease=args.get("disease"),
        staff=actor.id,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    _plan_for_these_values()
    connection = db.session.connection()
    rows = connection.execute(stmt, params).all()
    if rows:
        total = rows[0].total
    else:  # past the last page: the window count had no row to ride on
        total = connection.execute(count, params).scalar()
    items = [_worklist_item(row, day) for row in rows]
    audit.record_many(
        actor,
        list(dict.fromkeys(row.resident_id for row in rows)),
        action="read",
        section="followup_worklist",
        purpose="follow_up",
    )
    body = page_body(items, page, per_page, total)
    body.update(today=day, team_ids=team_ids)
    return body  # WorklistPage's shape and order


_STATEMENTS: dict = {}


def _plan_for_these_values() -> None:
    """A team's worklist is planned for that team: the best plan depends on the team's size and how
    many of its patients have open plans, so PostgreSQL's cached generic plan (which psycopg's
    automatic prepare leads to) cost about 1.3 ms more per request than planning it each time."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


_ORDER = (FollowupPlan.priority.desc(), FollowupPlan.due_on, FollowupPlan.id)


def _open_plans(applies, scope_clause, status: str, within: bool):
    """The open plans of the requested teams still applying, in scope, filtered by status: the page's
    columns, the total (``count(*) over ()``) and each row's position in the urgency order."""
    day, horizon = bindparam("day", type_=Date), bindparam("horizon", type_=Date)
    plans = (
        select(
            FollowupPlan.id,
            FollowupPlan.disease,
            FollowupPlan.opens_on,
            FollowupPlan.due_on,
            FollowupPlan.reason,
            FollowupPlan.priority,
            FollowupPlan.last_visit_id,
            FollowupPlan.kind.label("plan_kind"),
            Resident.id.label("resident_id"),
            Resident.name,
            Resident.archive_no,
            Resident.sex,
            Resident.birth_on,
            Resident.phone,
            Resident.team_id,
            func.count().over().label("total"),
            func.row_number().over(order_by=_ORDER).label("position"),
        )
        .select_from(FollowupPlan)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(
            FollowupPlan.status == "open",
            Resident.team_id.in_(bindparam("teams", expanding=True)),
            applies,
            scope_clause,
            not_snoozed(day),
        )
    )
    if status == "overdue":
        plans = plans.where(FollowupPlan.due_on < day)
    elif status == "due":
        plans = plans.where(FollowupPlan.due_on >= day, FollowupPlan.opens_on <= horizon)
    elif within:
        plans = plans.where(FollowupPlan.opens_on <= horizon)
    return plans


def _statements(scope_clause, status: str, within: bool, disease: bool, mine: bool):
    """(the page statement, the counting statement) for one shape of request, values bound."""
    plans = _open_plans(managed_plan_clause(), scope_clause, status, within)
    if disease:
        plans = plans.where(FollowupPlan.disease == bindparam("disease"))
    if mine:
        plans = plans.where(_responsible_doctor_clause(bindparam("staff"), bindparam("day", type_=Date)))
    page_rows = plans.order_by(*_ORDER).limit(bindparam("limit")).offset(bindparam("offset")).subquery("page")
    visit = FollowupVisit
    per_disease = case(
        (page_rows.c.disease == "hypertension", visit.hypertension_classification), else_=visit.t2dm_classification
    )
    stmt = (
        select(
            page_rows,
            visit.id.label("visit_id"),
            visit.visit_on,
            visit.method,
            visit.sbp,
            visit.dbp,
            visit.fasting_glucose,
            per_disease.label("visit_classification"),
            visit.referral_suggested,
            visit.urgent_referral,
        )
        .select_from(page_rows.outerjoin(visit, visit.id == page_rows.c.last_visit_id))
        .order_by(page_rows.c.position)
    )
    count = select(func.count()).select_from(plans.order_by(None).subquery())
    return stmt, count


def _responsible_doctor_clause(staff_id, day):
    return exists(
        select(Contract.id).where(
            Contract.resident_id == Resident.id, Contract.doctor_id == staff_id, in_force_clause(day)
        )
    )


def _worklist_item(row, day: date) -> dict:
    last = None
    if row.visit_id is not None:
        last = {
            "id": row.visit_id,
            "visit_on": row.visit_on,
            "method": row.method,
            "sbp": row.sbp,
            "dbp": row.dbp,
            "fasting_glucose": row.fasting_glucose,
            "classification": row.visit_classification,
            "referral_suggested": bool(row.referral_suggested),
            "urgent_referral": bool(row.urgent_referral),
        }
    return {  # in WorklistItemOut's order: the route encodes it without a dump pass
        "plan_id": row.id,
        "resident": _resident(row, day),
        "disease": row.disease,
        "opens_on": row.opens_on,
        "due_on": row.due_on,
        "overdue_days": max(0, (day - row.due_on).days),
        "window": window_of(row.opens_on, row.due_on, day),
        "reason": row.reason,
        "priority": row.priority,
        "last_visit": last,
    }


# --- every programme -----------------------------------------------------------------------------

# What a programme's plan asks for (the worklist's ``kind``) — unless the plan names the check of its
# schedule (the child checks: month_3 …).
KINDS = {
    "hypertension": "followup",
    "t2dm": "followup",
    "elderly_check": "health_check",
    "elderly_tcm": "tcm",
    "disabled_check": "health_check",
    "referral": "referral_feedback",
    "referral_return": "followup",
}


def kind_of(programme: str, plan_kind: str | None) -> str:
    return plan_kind or KINDS[programme]


def programme_of(disease: str, plan_kind: str | None) -> str:
    """The programme a plan is listed under (``newborn`` for a child's newborn home visit)."""
    return NEWBORN_PROGRAMME if disease == CHILD_PROGRAMME and plan_kind == NEWBORN_KIND else disease


def programme_filter(programme: str):
    """SQL: the plan is listed under ``programme`` (:func:`programme_of`), on the ``disease`` column
    (the plans' index) with the child plans split by their kind."""
    if programme == NEWBORN_PROGRAMME:
        return and_(FollowupPlan.disease == CHILD_PROGRAMME, FollowupPlan.kind == NEWBORN_KIND)
    if programme == CHILD_PROGRAMME:
        return and_(FollowupPlan.disease == CHILD_PROGRAMME, FollowupPlan.kind != NEWBORN_KIND)
    return FollowupPlan.disease == bindparam("programme")


_PROGRAMME_STATEMENTS: dict = {}


def programme_worklist(actor, args: dict) -> dict:
    """GET /worklist: the open plans of every programme (or one, ``programme``) of a team, in the
    chronic worklist's urgency order, one statement per page; each resident on the page is logged."""
    day = today()
    team_ids = _worklist_teams(actor, args.get("team_id"))
    status, within = args.get("status", "all"), args.get("within_days")
    scope_key, scope_clause, params = bound_resident_scope(actor)
    programme = args.get("programme")
    split = programme if programme in (NEWBORN_PROGRAMME, CHILD_PROGRAMME) else bool(programme)
    shape = (scope_key, status, within is not None, split)
    if shape not in _PROGRAMME_STATEMENTS:
        plans = _open_plans(plan_applies_clause(), scope_clause, status, within is not None)
        if programme:
            plans = plans.where(programme_filter(programme))
        page_rows = plans.order_by(*_ORDER).limit(bindparam("limit")).offset(bindparam("offset")).subquery("page")
        contact, earlier = ContactAttempt, aliased(ContactAttempt)
        latest = (
            select(func.max(earlier.id)).where(earlier.plan_id == page_rows.c.id).correlate(page_rows).scalar_subquery()
        )
        page = (
            select(
                page_rows,
                contact.id.label("contact_id"),
                contact.contacted_on,
                contact.method.label("contact_method"),
                contact.outcome.label("contact_outcome"),
                contact.call_back_on,
                contact.note.label("contact_note"),
            )
            .select_from(page_rows.outerjoin(contact, contact.id == latest))
            .order_by(page_rows.c.position)
        )
        count = select(func.count()).select_from(plans.order_by(None).subquery())
        _PROGRAMME_STATEMENTS[shape] = page, count
    stmt, count = _PROGRAMME_STATEMENTS[shape]
    page, per_page = args["page"], args["per_page"]
    params.update(
        teams=team_ids,
        day=day,
        horizon=day + timedelta(days=within or 0),
        programme=args.get("programme"),
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    _plan_for_these_values()
    connection = db.session.connection()
    rows = connection.execute(stmt, params).all()
    total = rows[0].total if rows else connection.execute(count, params).scalar()
    audit.record_many(
        actor, list(dict.fromkeys(row.resident_id for row in rows)), action="read", section="worklist", purpose="care"
    )
    body = page_body([_programme_item(row, day) for row in rows], page, per_page, total)
    body.update(today=day, team_ids=team_ids)
    return body  # ProgrammeWorklistPage's shape and order


def _programme_item(row, day: date) -> dict:
    return {  # in ProgrammeWorklistItemOut's order
        "plan_id": row.id,
        "programme": programme_of(row.disease, row.plan_kind),
        "kind": kind_of(row.disease, row.plan_kind),
        "resident": _resident(row, day),
        "opens_on": row.opens_on,
        "due_on": row.due_on,
        "overdue_days": max(0, (day - row.due_on).days),
        "window": window_of(row.opens_on, row.due_on, day),
        "reason": row.reason,
        "priority": row.priority,
        "last_contact": _last_contact(row),
    }


def _last_contact(row) -> dict | None:
    if row.contact_id is None:
        return None
    return {
        "id": row.contact_id,
        "contacted_on": row.contacted_on,
        "method": row.contact_method,
        "outcome": row.contact_outcome,
        "call_back_on": row.call_back_on,
        "note": row.contact_note,
    }


def _resident(row, day: date) -> dict:
    return {
        "id": row.resident_id,
        "name": row.name,
        "archive_no": row.archive_no,
        "sex": row.sex,
        "age": age_on(row.birth_on, day),
        "phone": mask_phone(row.phone),
        "team_id": row.team_id,
    }
