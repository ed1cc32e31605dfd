"""Who is managed, and the follow-up plans a visit moves.

Who is managed: a resident whose archive is ``active`` with an active ``Condition`` of
hypertension or T2DM (``app.residents.populations.has_condition`` — the same definition as
the population lists). Management of a disease ends when the resident moves away or dies or
the diagnosis is deactivated: the worklist and the reminders drop the patient at once (their
queries check it), and the daily plan job closes the plan.

Plans are kept per patient *and disease*; a visit says which parts of the form were filled
in (``disease``: hypertension, t2dm or both). A combined visit closes both plans; a visit
covering one disease closes only that one — the other disease stays due. Only a face-to-face
visit (clinic or home) closes a plan; a phone follow-up is recorded and classified, and when it
needs a recheck it brings the open plan's window forward instead.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.followups import rules
from app.followups.models import (
    CHECK_PROGRAMMES,
    CHILD_PROGRAMME,
    MANAGED_DISEASES,
    MATERNAL_PROGRAMMES,
    REFERRAL_PROGRAMMES,
    FollowupPlan,
    FollowupVisit,
)
from app.residents.models import Condition, Resident


def add_days(expr, days: int):
    """``expr + days`` for a DATE expression, on SQLite and PostgreSQL (the plan windows' arithmetic)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(expr, f"{int(days):+d} days", type_=Date)
    return type_coerce(expr + literal_column(str(int(days)), Integer), Date)


def add_days_column(expr, days):
    """``expr + days`` for a DATE expression and an integer column (a schedule's ages in days)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(expr, literal_column("'+'") + cast(days, String) + literal_column("' days'"), type_=Date)
    return type_coerce(expr + days, Date)


def later_of(a, b):
    """The later of two DATE expressions (SQLite stores dates as ISO text, so ``max`` orders them)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.max(a, b, type_=Date)
    return func.greatest(a, b, type_=Date)


# The columns of a missing-plans SELECT, in order (``kind`` after them where a programme has one).
PLAN_COLUMNS = (
    "resident_id",
    "disease",
    "opens_on",
    "due_on",
    "status",
    "reason",
    "priority",
    "last_visit_id",
    "created_at",
    "updated_at",
)


def open_plan_once(**values) -> int | None:
    """Open one plan unless the resident already has an open one of that programme (a concurrent
    request won): INSERT … ON CONFLICT DO NOTHING on the "one open plan" index. The new plan's id, or
    None."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(FollowupPlan)
        .values(status="open", **values)
        .on_conflict_do_nothing(index_elements=["resident_id", "disease"], index_where=text("status = 'open'"))
        .returning(FollowupPlan.id)
    )
    return db.session.execute(stmt).scalar()


def insert_plans(rows, columns=PLAN_COLUMNS) -> int:
    """The plan engine's one way to open plans set-based: INSERT … SELECT ``rows`` (in ``columns``
    order) … ON CONFLICT DO NOTHING on the "one open plan" index — a visit racing the job wins."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(FollowupPlan)
        .from_select(list(columns), rows)
        .on_conflict_do_nothing(index_elements=["resident_id", "disease"], index_where=text("status = 'open'"))
        .returning(FollowupPlan.id)
    )
    return len(db.session.execute(stmt).all())


# --- who is managed -------------------------------------------------------------------------


def condition_active(disease_column):
    """SQL: the resident (``Resident.id``) has an active diagnosis of ``disease_column``."""
    return exists(
        select(Condition.id).where(
            Condition.resident_id == Resident.id, Condition.disease == disease_column, Condition.active
        )
    )


def managed_plan_clause():
    """SQL over FollowupPlan ⋈ Resident: the plan's patient is still managed for its disease."""
    return and_(Resident.status == "active", condition_active(FollowupPlan.disease))


def plan_applies_clause():
    """SQL over FollowupPlan ⋈ Resident, every programme: the plan still applies — a chronic plan's
    patient is still managed; a yearly or child check's archive is active (the plan job closes the
    plans of residents a programme no longer covers)."""
    return and_(
        Resident.status == "active",
        or_(
            FollowupPlan.disease.in_((*CHECK_PROGRAMMES, CHILD_PROGRAMME, *MATERNAL_PROGRAMMES, *REFERRAL_PROGRAMMES)),
            condition_active(FollowupPlan.disease),
        ),
    )


def not_snoozed(day):
    """SQL over FollowupPlan: the entry is on the worklists today (no "call later" or referral's days
    for feedback still running)."""
    return or_(FollowupPlan.snoozed_until.is_(None), FollowupPlan.snoozed_until <= day)


def managed_diseases(resident) -> list[str]:
    if resident.status != "active":
        return []
    active = {c.disease for c in resident.conditions if c.active}
    return [d for d in MANAGED_DISEASES if d in active]


_PLANS = FollowupPlan.__table__
_OPEN_PLANS = (
    select(*_PLANS.c)
    .where(
        _PLANS.c.resident_id == bindparam("rid"),
        _PLANS.c.status == "open",
        _PLANS.c.disease.in_(bindparam("diseases", expanding=True)),
    )
    .order_by(_PLANS.c.due_on, _PLANS.c.id)
)


def open_plans(resident) -> list:
    """The resident's open plans (rows), for the diseases still managed (earliest due first)."""
    managed = managed_diseases(resident)
    if not managed:
        return []
    return db.session.connection().execute(_OPEN_PLANS, {"rid": resident.id, "diseases": managed}).all()


# --- what a visit does to the plans ---------------------------------------------------------


def _open_plan(resident_id: int, disease: str) -> FollowupPlan | None:
    return db.session.scalar(
        select(FollowupPlan).where(
            FollowupPlan.resident_id == resident_id, FollowupPlan.disease == disease, FollowupPlan.status == "open"
        )
    )


def _tighten(plan: FollowupPlan, outcome: rules.Outcome) -> None:
    """A phone follow-up that needs a recheck brings the face-to-face window forward — and back onto
    the worklists, whatever call-back day a contact had set."""
    plan.snoozed_until = None
    if outcome.due_on < plan.due_on:
        plan.due_on = outcome.due_on
        plan.opens_on = min(plan.opens_on, outcome.opens_on)
    if outcome.priority > plan.priority or (outcome.priority == plan.priority and plan.reason in ("routine", "first")):
        plan.priority, plan.reason = outcome.priority, outcome.reason


def apply_plan(
    resident_id: int, visit: FollowupVisit, outcome: rules.Outcome, later_visit: bool, day: date
) -> FollowupPlan | None:
    """Move the disease's plan after ``visit``: a face-to-face visit closes it and opens the next."""
    plan = _open_plan(resident_id, outcome.disease)
    if later_visit:  # a late entry of an older visit: the plans already follow a newer one
        return plan
    if visit.face_to_face:
        if plan is not None:
            plan.status, plan.closed_by_visit_id = "done", visit.id
            plan.closed_on, plan.close_reason = visit.visit_on, "visit"
            db.session.flush()  # free the "one open plan" slot before the next one is inserted
        plan = FollowupPlan(
            resident_id=resident_id,
            disease=outcome.disease,
            opens_on=outcome.opens_on,
            due_on=outcome.due_on,
            status="open",
            reason=outcome.reason,
            priority=outcome.priority,
            last_visit_id=visit.id,
        )
        db.session.add(plan)
        return plan
    if plan is None:
        opens_on, due_on = rules.first_window(day)
        plan = FollowupPlan(
            resident_id=resident_id,
            disease=outcome.disease,
            opens_on=opens_on,
            due_on=due_on,
            status="open",
            reason="first",
            priority=0,
        )
        db.session.add(plan)
    plan.last_visit_id = visit.id
    if outcome.needs_recheck:
        _tighten(plan, outcome)
    return plan


# --- presenting -----------------------------------------------------------------------------


def window_of(opens_on: date, due_on: date, day: date) -> str:
    if due_on < day:
        return "overdue"
    return "due" if opens_on <= day else "upcoming"


def present_plan(plan, day: date) -> dict:
    is_open = plan.status == "open"
    return {
        "id": plan.id,
        "disease": plan.disease,
        "opens_on": plan.opens_on,
        "due_on": plan.due_on,
        "status": plan.status,
        "window": window_of(plan.opens_on, plan.due_on, day) if is_open else None,
        "overdue_days": max(0, (day - plan.due_on).days) if is_open else 0,
        "reason": plan.reason,
        "priority": plan.priority,
        "closed_on": plan.closed_on,
        "close_reason": plan.close_reason,
    }
