"""The plan job :func:`ensure_plans` (daily): every managed patient has exactly one open plan per
disease, and every resident a plan per yearly check programme, child check and pregnancy visit due
(``checkups``, ``child_plans``, ``maternal_plans``). It closes the plans of residents who moved away or died and of diagnoses no longer active,
then opens the missing ones with one ``INSERT … SELECT`` (window from the last face-to-face visit,
or a first window from today for a patient never seen). Runs as ``app.followups.job_runs`` says.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Date,
    String,
    case,
    exists,
    literal,
    or_,
    select,
    true,
    update,
)

from app.common.time import now
from app.common.time import today as local_today
from app.common.types import UTCDateTime
from app.extensions import db
from app.followups import checkups, child_plans, maternal_plans, rules
from app.followups.job_runs import commit_run as _commit
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupPlan, FollowupVisit
from app.followups.plans import add_days, insert_plans
from app.residents.models import Condition, Resident


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def close_inactive(day: date) -> int:
    """Close the open plans of residents whose archive is no longer active (moved / deceased)."""
    status = select(Resident.status).where(Resident.id == FollowupPlan.resident_id).scalar_subquery()
    result = db.session.execute(
        update(FollowupPlan)
        .where(
            FollowupPlan.status == "open",
            FollowupPlan.resident_id.in_(select(Resident.id).where(Resident.status != "active")),
        )
        .values(status="closed", closed_on=day, close_reason=status, updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def close_not_managed(day: date) -> int:
    """Close the open plans whose diagnosis is no longer active (management ended)."""
    active = exists(
        select(Condition.id).where(
            Condition.resident_id == FollowupPlan.resident_id,
            Condition.disease == FollowupPlan.disease,
            Condition.active,
        )
    )
    result = db.session.execute(
        update(FollowupPlan)
        .where(FollowupPlan.status == "open", FollowupPlan.disease.in_(MANAGED_DISEASES), ~active)
        .values(status="closed", closed_on=day, close_reason="not_managed", updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def last_face_to_face(owner):
    """The id of the newest face-to-face visit of ``owner``'s resident for ``owner``'s disease
    (``owner``: a Condition or a FollowupPlan, correlated)."""
    visit = FollowupVisit
    covers = case((owner.disease == "hypertension", visit.hypertension), else_=visit.t2dm)
    return (
        select(visit.id)
        .where(visit.resident_id == owner.resident_id, covers, visit.method.in_(FACE_TO_FACE))
        .order_by(visit.visit_on.desc(), visit.id.desc())
        .limit(1)
        .correlate(owner)
        .scalar_subquery()
    )


def missing_plans_select(day: date, cfg: dict | None = None):
    """SELECT of the plans to open: (resident_id, disease, opens_on, due_on, status, reason, priority,
    last_visit_id, created_at, updated_at) for each managed patient and disease without one."""
    cfg = cfg or rules.window_config()
    condition, visit, plan = Condition, FollowupVisit, FollowupPlan
    last_visit = last_face_to_face(condition)
    missing = (
        select(
            condition.resident_id.label("resident_id"),
            condition.disease.label("disease"),
            last_visit.label("last_visit_id"),
        )
        .select_from(condition)
        .join(Resident, Resident.id == condition.resident_id)
        .where(
            condition.active,
            condition.disease.in_(MANAGED_DISEASES),
            Resident.status == "active",
            ~exists(
                select(plan.id).where(
                    plan.resident_id == condition.resident_id, plan.disease == condition.disease, plan.status == "open"
                )
            ),
        )
        .subquery("missing")
    )
    classification = case(
        (missing.c.disease == "hypertension", visit.hypertension_classification), else_=visit.t2dm_classification
    )
    recheck = or_(classification != "controlled", visit.referral_suggested, visit.urgent_referral)
    never = visit.id.is_(None)
    first_opens, first_due = rules.first_window(day, cfg)
    reason = case(
        (never, "first"),
        (visit.urgent_referral, "urgent"),
        (visit.referral_suggested, "referral"),
        (recheck, "recheck"),
        else_="routine",
    )
    priority = case((visit.urgent_referral, 2), (visit.referral_suggested, 1), else_=0)
    opens_on = case(
        (never, literal(first_opens, Date)),
        (recheck, add_days(visit.visit_on, 1)),
        else_=add_days(visit.visit_on, cfg["open_days"]),
    )
    due_on = case(
        (never, literal(first_due, Date)),
        (recheck, add_days(visit.visit_on, cfg["recheck_days"])),
        else_=add_days(visit.visit_on, cfg["due_days"]),
    )
    at = literal(now(), UTCDateTime)
    return (
        select(
            missing.c.resident_id,
            missing.c.disease,
            opens_on,
            due_on,
            literal("open", String),
            reason,
            priority,
            missing.c.last_visit_id,
            at,
            at,
        )
        .select_from(missing.outerjoin(visit, visit.id == missing.c.last_visit_id))
        .where(true())
    )  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT


def close_superseded(resident_ids: list[int], batch: int = 5000) -> int:
    """Visits recorded after the fact (an import): an open plan of these residents that an older visit
    set is done by the newest face-to-face visit, as recording that visit would have closed it; the
    plan job then opens the next one from it (``missing_plans_select``)."""
    visit, plan = FollowupVisit, FollowupPlan
    latest = last_face_to_face(plan)
    latest_on = select(visit.visit_on).where(visit.id == latest).scalar_subquery()
    planned_from = select(visit.visit_on).where(visit.id == plan.last_visit_id).scalar_subquery()
    closed = 0
    for start in range(0, len(resident_ids), batch):
        result = db.session.execute(
            update(plan)
            .where(
                plan.status == "open",
                plan.disease.in_(MANAGED_DISEASES),
                plan.resident_id.in_(resident_ids[start : start + batch]),
                latest.is_not(None),
                or_(plan.last_visit_id.is_(None), planned_from < latest_on),
            )
            .values(
                status="done", closed_by_visit_id=latest, closed_on=latest_on, close_reason="visit", updated_at=now()
            )
            .execution_options(synchronize_session=False)
        )
        closed += result.rowcount
    return closed


def open_missing(day: date) -> int:
    return insert_plans(missing_plans_select(day))


def ensure_plans(today: date | None = None) -> dict:
    """Daily: close plans that ended, open the missing ones — every programme. Idempotent."""
    day = today or local_today()
    counts = {"closed_inactive": close_inactive(day), "closed_not_managed": close_not_managed(day)}
    counts["opened"] = open_missing(day)
    # the yearly checks (app.followups.checkups): lapse last year's, close the fulfilled, open
    counts["checkups_lapsed"] = checkups.close_lapsed(day)
    counts["checkups_done"] = checkups.close_done(day)
    counts["checkups_not_eligible"] = checkups.close_not_eligible(day)
    counts["checkups_opened"] = sum(insert_plans(checkups.missing_plans_select(p, day)) for p in checkups.PROGRAMMES)
    # the children's checks (app.followups.child_plans): lapse the turns that ended, close the done, open
    counts["child_checks_lapsed"] = child_plans.close_lapsed(day)
    counts["child_checks_done"] = child_plans.close_done(day)
    counts["child_checks_opened"] = child_plans.open_missing(day)
    # a pregnancy's visits (app.followups.maternal_plans): close the done, the lapsed and the ended, open
    counts["maternal_done"] = maternal_plans.close_done(day)
    counts["maternal_lapsed"] = maternal_plans.close_lapsed(day)
    counts["maternal_opened"] = maternal_plans.open_missing(day)
    return _commit(counts, "ensure_plans", day)
