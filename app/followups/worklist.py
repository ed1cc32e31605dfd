"""The doctor's worklist: the open plans of a team, most urgent first, one query per page."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, exists, func, select

from app.access.scope import get_managed_team, resident_clause
from app.audit import services as audit
from app.common.ids import mask_phone
from app.common.pagination import page_body
from app.common.time import age_on, today
from app.contracts.models import Contract
from app.contracts.periods import in_force_clause
from app.errors import Invalid
from app.extensions import db
from app.followups.models import FollowupPlan, FollowupVisit
from app.followups.plans import managed_plan_clause, window_of
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
    times whatever the team's size.
    """
    day = today()
    team_ids = _worklist_teams(actor, args.get("team_id"))
    status = args.get("status", "all")
    within = args.get("within_days")
    horizon = day + timedelta(days=within or 0)
    order = (FollowupPlan.priority.desc(), FollowupPlan.due_on, FollowupPlan.id)
    plans = (
        select(
            FollowupPlan.id,
            FollowupPlan.disease,
            FollowupPlan.opens_on,
            FollowupPlan.due_on,
            FollowupPlan.reason,
            FollowupPlan.priority,
            FollowupPlan.last_visit_id,
            Resident.id.label("resident_id"),
            Resident.name,
            Resident.archive_no,
            Resident.sex,
            Resident.birth_on,
            Resident.phone,
            Resident.team_id,
            func.count().over().label("total"),
            func.row_number().over(order_by=order).label("position"),
        )
        .select_from(FollowupPlan)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(
            FollowupPlan.status == "open", Resident.team_id.in_(team_ids), managed_plan_clause(), resident_clause(actor)
        )
    )
    if status == "overdue":
        plans = plans.where(FollowupPlan.due_on < day)
    elif status == "due":
        plans = plans.where(FollowupPlan.due_on >= day, FollowupPlan.opens_on <= horizon)
    elif within is not None:
        plans = plans.where(FollowupPlan.opens_on <= horizon)
    if args.get("disease"):
        plans = plans.where(FollowupPlan.disease == args["disease"])
    if args.get("doctor") == "me":
        plans = plans.where(_responsible_doctor_clause(actor.id, day))
    page, per_page = args["page"], args["per_page"]
    page_rows = plans.order_by(*order).limit(per_page).offset((page - 1) * per_page).subquery("page")
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
    rows = db.session.execute(stmt).all()
    if rows:
        total = rows[0].total
    else:  # past the last page: the window count had no row to ride on
        total = db.session.scalar(select(func.count()).select_from(plans.order_by(None).subquery()))
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
    return body


def _responsible_doctor_clause(staff_id: int, day: date):
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
    return {
        "plan_id": row.id,
        "disease": row.disease,
        "opens_on": row.opens_on,
        "due_on": row.due_on,
        "overdue_days": max(0, (day - row.due_on).days),
        "window": window_of(row.opens_on, row.due_on, day),
        "reason": row.reason,
        "priority": row.priority,
        "last_visit": last,
        "resident": {
            "id": row.resident_id,
            "name": row.name,
            "archive_no": row.archive_no,
            "sex": row.sex,
            "age": age_on(row.birth_on, day),
            "phone": mask_phone(row.phone),
            "team_id": row.team_id,
        },
    }
