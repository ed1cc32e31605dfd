"""Demo data: two years of follow-up history for the demo district's hypertension and T2DM patients.

``seed_followups(ctx)`` (step "followups", after "conditions") gives every patient a realistic
record: most are seen about quarterly (clinic, some at home, a few by phone), uncontrolled
visits are rechecked within two weeks, two uncontrolled in a row or an emergency value lead to a
referral, some patients come irregularly and some stopped coming months ago (overdue today).
Every visit goes through the same rules as the API (``app.followups.rules``), and every managed
patient gets the one open plan per disease the API would have left behind — so the daily plan
job finds nothing to add after a seed. Only open plans are inserted (the closed history is not
needed by anything).

Fast enough for the full district (≈ 59,000 patients, ≈ 530,000 visits): rows are built as
tuples in a fixed column order, JSON values shared between rows are serialised once, and on
PostgreSQL the rows go in with ``COPY`` inside the seed's transaction (``ctx.insert`` elsewhere).
The patients and their visits are written by ``app.followups.demo_visits``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.followups import checkups, child_plans, maternal_plans, rules
from app.followups.demo_visits import VISIT_COLUMNS, Patient, VisitWriter
from app.followups.models import MANAGED_DISEASES, FollowupPlan, FollowupVisit
from app.followups.plans import insert_plans
from app.residents.models import Condition

HISTORY_DAYS = 730
PLAN_COLUMNS = (
    "id",
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


def seed_followups(ctx) -> None:
    """Visits over the past two years and one open plan per managed patient and disease."""
    today = ctx.today
    start = today - timedelta(days=HISTORY_DAYS)
    cfg = rules.window_config()
    diagnosed: dict[int, dict[str, date]] = {}
    for resident_id, disease, diagnosed_on in db.session.execute(
        select(Condition.resident_id, Condition.disease, Condition.diagnosed_on).where(
            Condition.active, Condition.disease.in_(MANAGED_DISEASES)
        )
    ):
        diagnosed.setdefault(resident_id, {})[disease] = diagnosed_on
    ctx.extras["followups_json"] = _json_values() if _postgres() else (lambda value: value)
    first_visit_id = next_visit_id = ctx.allocate_ids(FollowupVisit, 0).start  # reserved once counted
    plans: list[list] = []
    stats = {"urgent": 0, "referral": 0, "overdue": 0}
    # Visits stream to the database while the next ones are generated (PostgreSQL ingests in parallel).
    with _Sink(ctx, FollowupVisit, VISIT_COLUMNS) as visits:
        for centre in ctx.centres:
            rng = ctx.rng("followups", centre.code)
            for ref in ctx.residents.get(centre.code, ()):
                if ref.id not in diagnosed:
                    continue
                patient = Patient(rng, ref, diagnosed[ref.id])
                writer = VisitWriter(ctx, rng, patient, cfg, centre.team_leader.get(ref.team_id), visits, next_visit_id)
                writer.history(start, today)
                next_visit_id = writer.next_id
                for disease in MANAGED_DISEASES:
                    if disease in patient.diagnosed:
                        plans.append(_open_plan(patient, disease, today, cfg, stats, ctx.now))
    visit_count = next_visit_id - first_visit_id
    assert ctx.allocate_ids(FollowupVisit, visit_count).start == first_visit_id
    for plan_row, plan_id in zip(plans, ctx.allocate_ids(FollowupPlan, len(plans)), strict=True):
        plan_row[0] = plan_id
    with _Sink(ctx, FollowupPlan, PLAN_COLUMNS) as sink:
        for row in plans:
            sink.append(row)
    ctx.notes.append(
        f"Follow-ups: {visit_count} visits over two years for {len(diagnosed)} patients; {len(plans)} open plans, "
        f"{stats['overdue']} overdue, {stats['referral']} referral pending, {stats['urgent']} urgent referral."
    )


def _open_plan(patient: Patient, disease: str, today: date, cfg: dict, stats: dict, now) -> list:
    found = patient.plan.get(disease)
    if found is None:
        opens_on, due_on = rules.first_window(today, cfg)
        reason, priority, visit_id = "first", 0, None
    else:
        opens_on, due_on, reason, priority, visit_id = found
    if due_on < today:
        stats["overdue"] += 1
    if priority == 2:
        stats["urgent"] += 1
    elif priority == 1:
        stats["referral"] += 1
    return [None, patient.id, disease, opens_on, due_on, "open", reason, priority, visit_id, now, now]


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _json_values():
    """JSON text for COPY; shared lists / dicts are serialised once. The memo keeps each object
    alive, so an ``id`` is never reused for another object while the step runs."""
    memo: dict[int, tuple] = {}

    def as_json(value):
        if value is None:
            return None
        found = memo.get(id(value))
        if found is None:
            found = memo[id(value)] = (value, json.dumps(value, ensure_ascii=False))
        return found[1]

    return as_json


class _Sink:
    """Rows of one table: COPY … FROM STDIN on PostgreSQL (same transaction, streamed), else
    collected and written with ``ctx.insert`` on leaving the block."""

    def __init__(self, ctx, model, columns: tuple[str, ...]):
        self.ctx, self.table, self.columns = ctx, model.__table__, columns
        self.rows: list = []
        self.count = 0
        self._copy = self._cursor = None

    def __enter__(self):
        if _postgres():
            raw = db.session.connection().connection.driver_connection
            self._cursor = raw.cursor()
            self._copy_cm = self._cursor.copy(f'COPY "{self.table.name}" ({", ".join(self.columns)}) FROM STDIN')
            self._copy = self._copy_cm.__enter__()
        return self

    def append(self, row) -> None:
        self.count += 1
        if self._copy is not None:
            self._copy.write_row(row)
        else:
            self.rows.append(row)

    def __exit__(self, *exc):
        if self._copy is not None:
            try:
                self._copy_cm.__exit__(*exc)
            finally:
                self._cursor.close()
            if exc[0] is None:
                self.ctx.counts[self.table.name] += self.count
        elif exc[0] is None:
            self.ctx.insert(self.table, [dict(zip(self.columns, row, strict=True)) for row in self.rows])
        return False


def seed_checkup_plans(ctx) -> None:
    """Step "checkup_plans", after "checks" and "child_checks": the plans the daily job would have
    left open had it run every day this year — the yearly checks opened on 1 January for the
    residents a programme covered then (due on the anniversary of last year's check), closed for
    those checked since (so not inserted), opened today for those it covers only now; each child's
    next check — with the job's own statements."""
    year_start = date(ctx.today.year, 1, 1)
    ctx.use_database_ids(FollowupPlan)  # the "followups" step numbered its plans itself
    opened = sum(insert_plans(checkups.missing_plans_select(p, year_start)) for p in checkups.PROGRAMMES)
    checkups.close_not_eligible(ctx.today)
    opened += sum(insert_plans(checkups.missing_plans_select(p, ctx.today)) for p in checkups.PROGRAMMES)
    children = child_plans.open_missing(ctx.today)  # the next check of each child (after "child_checks")
    maternal = maternal_plans.open_missing(ctx.today)  # each pregnancy's next visit (after "pregnancies")
    ctx.counts["followup_plans"] += opened + children + maternal
    ctx.notes.append(
        f"Plans of the yearly checks (elderly check, elderly TCM, disabled check): {opened} open; "
        f"of the child checks: {children} open; of the pregnancies' visits: {maternal} open."
    )
