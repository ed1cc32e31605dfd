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
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select

from app.common.measures import bmi
from app.extensions import db
from app.followups import rules
from app.followups.models import MANAGED_DISEASES, FollowupPlan, FollowupVisit
from app.residents.models import Condition

HISTORY_DAYS = 730
HTN_DRUGS = (
    ("苯磺酸氨氯地平片", "每日1次", "5mg"),
    ("硝苯地平缓释片", "每日2次", "20mg"),
    ("厄贝沙坦片", "每日1次", "150mg"),
    ("缬沙坦胶囊", "每日1次", "80mg"),
    ("琥珀酸美托洛尔缓释片", "每日1次", "47.5mg"),
    ("吲达帕胺片", "每日1次", "2.5mg"),
)
T2DM_DRUGS = (
    ("盐酸二甲双胍片", "每日3次", "0.5g"),
    ("格列美脲片", "每日1次", "2mg"),
    ("阿卡波糖片", "每日3次", "50mg"),
    ("磷酸西格列汀片", "每日1次", "100mg"),
)
INSULIN = ({"type": "甘精胰岛素", "dose": "睡前12单位"}, {"type": "门冬胰岛素30", "dose": "早晚餐前各10单位"})
COMPLICATIONS = tuple([c] for c in ("视网膜病变", "糖尿病肾病", "周围神经病变", "左心室肥厚", "短暂性脑缺血发作"))
REFERRALS = {
    "hypertension": {"reason": "血压控制不满意", "institution": "威海市立医院", "department": "心内科"},
    "t2dm": {"reason": "血糖控制不满意", "institution": "威海市立医院", "department": "内分泌科"},
}
SYMPTOMS_NONE, SYMPTOMS_DIZZY, EMPTY = ["none"], ["headache_dizziness"], []
# goals set at the visit (only what the patient should change)
TARGET_LIFESTYLE = {"cigarettes_per_day": 0, "exercise_times_per_week": 5, "salt_intake": "light"}

VISIT_COLUMNS = (
    "id",
    "resident_id",
    "visit_on",
    "method",
    "hypertension",
    "t2dm",
    "hypertension_classification",
    "t2dm_classification",
    "classification",
    "computed_classification",
    "classification_source",
    "symptoms",
    "sbp",
    "dbp",
    "heart_rate",
    "weight_kg",
    "target_weight_kg",
    "height_cm",
    "bmi",
    "target_bmi",
    "dorsalis_pedis",
    "lifestyle",
    "psychological_adjustment",
    "compliance",
    "fasting_glucose",
    "hba1c",
    "hba1c_on",
    "adherence",
    "adverse_reaction",
    "adverse_reaction_text",
    "hypoglycaemia",
    "complications",
    "medications",
    "insulin",
    "referral",
    "alerts",
    "referral_suggested",
    "urgent_referral",
    "next_due_on",
    "institution_id",
    "recorded_by_id",
    "created_at",
)
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


def _normal(random, mu: float, sigma: float) -> float:
    """An approximately normal draw (Irwin–Hall, 4 uniforms): cheaper than random.gauss."""
    return mu + sigma * (random() + random() + random() + random() - 2.0) * 1.7320508


class _Patient:
    """One patient's state while their history is written."""

    __slots__ = (
        "id",
        "site_id",
        "diagnosed",
        "sbp",
        "glucose",
        "height",
        "weight",
        "target_weight",
        "target_bmi",
        "profile",
        "medications",
        "insulin",
        "lifestyle",
        "previous",
        "plan",
    )

    def __init__(self, rng, ref, diagnosed: dict[str, date]):
        random = rng.random
        self.id, self.site_id, self.diagnosed = ref.id, ref.site_id, diagnosed
        self.sbp = rng.gauss(136, 9)
        self.glucose = rng.gauss(6.9, 1.0)
        self.height = round(rng.gauss(168 if ref.sex == "male" else 157, 6), 1)
        self.weight = round(max(45.0, rng.gauss(72 if ref.sex == "male" else 62, 9)), 1)
        self.target_weight = round(min(self.weight, 24 * (self.height / 100) ** 2), 1)
        self.target_bmi = bmi(self.target_weight, self.height)
        draw = random()
        self.profile = "regular" if draw < 0.66 else "irregular" if draw < 0.86 else "lapsed"
        meds = []
        if "hypertension" in diagnosed:
            meds.extend(rng.sample(HTN_DRUGS, 1 if random() < 0.67 else 2))
        if "t2dm" in diagnosed:
            meds.extend(rng.sample(T2DM_DRUGS, 1 if random() < 0.5 else 2))
        self.medications = [{"name": n, "frequency": f, "dose": d} for n, f, d in meds]
        self.insulin = INSULIN[int(random() * 2)] if "t2dm" in diagnosed and random() < 0.1 else None
        smokes = random() < (0.3 if ref.sex == "male" else 0.02)
        self.lifestyle = {
            "now": {
                "cigarettes_per_day": 5 + int(random() * 16) if smokes else 0,
                "alcohol_per_day": (0, 0, 0, 1, 2)[int(random() * 5)],
                "exercise_times_per_week": int(random() * 8),
                "exercise_minutes": (20, 30, 40, 60)[int(random() * 4)],
                "salt_intake": ("light", "moderate", "moderate", "heavy")[int(random() * 4)],
            },
            "target": TARGET_LIFESTYLE,
        }
        self.previous: dict[str, str | None] = {d: None for d in diagnosed}
        # the open plan per disease as the API would keep it: [opens_on, due_on, reason, priority, visit id]
        self.plan: dict[str, list] = {}


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
                patient = _Patient(rng, ref, diagnosed[ref.id])
                writer = _Writer(ctx, rng, patient, cfg, centre.team_leader.get(ref.team_id), visits, next_visit_id)
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


class _Writer:
    """Writes one patient's visits (tuples in VISIT_COLUMNS order)."""

    def __init__(self, ctx, rng, patient: _Patient, cfg: dict, doctor, visits: list, next_id: int):
        self.ctx, self.rng, self.patient, self.cfg, self.doctor = ctx, rng, patient, cfg, doctor
        self.visits, self.next_id = visits, next_id
        self.js = ctx.extras["followups_json"]

    def history(self, start: date, today: date) -> None:
        patient, random = self.patient, self.rng.random
        first = max(start, min(patient.diagnosed.values()) + timedelta(days=7))
        day = first + timedelta(days=int(random() * 61))
        stop = today if patient.profile != "lapsed" else today - timedelta(days=130 + int(random() * 171))
        regular = patient.profile == "regular"
        all_diseases = [d for d in MANAGED_DISEASES if d in patient.diagnosed]
        all_from = max(patient.diagnosed.values())
        while day <= stop:
            covered = all_diseases if day >= all_from else [d for d in all_diseases if patient.diagnosed[d] <= day]
            recheck = self.visit(day, covered) if covered else False
            if recheck:
                gap = 7 + int(random() * 9) if regular else 12 + int(random() * 24)
            else:
                gap = 70 + int(random() * 23) if regular else 95 + int(random() * 96)
            day += timedelta(days=gap)

    def visit(self, day: date, covered: list[str]) -> bool:
        patient, rng, cfg = self.patient, self.rng, self.cfg
        random, js = rng.random, self.js
        draw = random()
        method = "clinic" if draw < 0.78 else "home" if draw < 0.93 else "phone"
        htn, t2dm = "hypertension" in covered, "t2dm" in covered
        sbp = dbp = glucose = hba1c = None
        if htn or random() < 0.6:
            sbp = int(_normal(random, patient.sbp, 8) + 0.5)
            if random() < 0.004:
                sbp = 180 + int(random() * 17)
            dbp = int(_normal(random, sbp * 0.6, 4) + 0.5)
            sbp, dbp = max(90, min(sbp, 230)), max(55, min(dbp, 125))
        if t2dm:
            glucose = round(max(4.2, _normal(random, patient.glucose, 0.8)), 1)
            if random() < 0.003:
                glucose = round(16.8 + random() * 3.2, 1)
            if random() < 0.25:
                hba1c = round(max(5.0, _normal(random, 4.2 + glucose * 0.45, 0.4)), 1)
        adverse = random() < 0.02
        complications = COMPLICATIONS[int(random() * len(COMPLICATIONS))] if random() < 0.006 else EMPTY
        values = {
            "sbp": sbp,
            "dbp": dbp,
            "fasting_glucose": glucose,
            "adverse_reaction": adverse,
            "complications": complications,
        }
        alerts = rules.emergency_alerts(sbp, dbp, glucose) or EMPTY
        final = {d: rules.compute_classification(d, values) for d in covered}
        overall = rules.worst(final.values())
        visit_id = self.next_id
        self.next_id += 1
        suggested = needs_recheck = False
        due = None
        for disease in covered:
            outcome = rules.decide(disease, final[disease], patient.previous[disease], alerts, False, day, None, cfg)
            patient.previous[disease] = final[disease]
            _follow_plan(patient, disease, outcome, method, day, visit_id, cfg)
            suggested = suggested or outcome.referral_suggested
            needs_recheck = needs_recheck or outcome.needs_recheck
            due = outcome.due_on if due is None or outcome.due_on < due else due
        weight = round(_normal(random, patient.weight, 0.8), 1)
        self.visits.append(
            (
                visit_id,
                patient.id,
                day,
                method,
                htn,
                t2dm,
                final.get("hypertension"),
                final.get("t2dm"),
                overall,
                overall,
                "computed",
                js(SYMPTOMS_NONE if random() < 0.8 else SYMPTOMS_DIZZY),
                sbp,
                dbp,
                60 + int(random() * 33),
                weight,
                patient.target_weight,
                patient.height,
                bmi(weight, patient.height),
                patient.target_bmi,
                ("normal" if random() < 0.92 else "weakened") if t2dm else None,
                js(patient.lifestyle),
                "good" if random() < 0.85 else "fair",
                "good" if random() < 0.8 else "fair",
                glucose,
                hba1c,
                day if hba1c is not None else None,
                "regular" if random() < 0.85 else "intermittent",
                adverse,
                "轻度干咳" if adverse else None,
                ("none" if random() < 0.9 else "occasional") if t2dm else None,
                js(complications),
                js(patient.medications),
                js(patient.insulin if t2dm else None),
                js(REFERRALS["hypertension" if htn else "t2dm"] if suggested else None),
                js(alerts),
                suggested,
                bool(alerts),
                due,
                patient.site_id,
                self.doctor,
                self.ctx.now,
            )
        )
        # treatment works: after an uncontrolled visit the patient tends to come back better
        if needs_recheck:
            patient.sbp -= random() * 7
            patient.glucose -= random() * 0.6
        else:
            patient.sbp += _normal(random, 0.4, 2.5)
            patient.glucose += _normal(random, 0.03, 0.25)
        return needs_recheck


def _follow_plan(patient: _Patient, disease: str, outcome, method: str, day: date, visit_id: int, cfg) -> None:
    """Mirror of ``services._apply_plan``: face to face replaces the plan, a phone call may tighten it."""
    if method != "phone":
        patient.plan[disease] = [outcome.opens_on, outcome.due_on, outcome.reason, outcome.priority, visit_id]
        return
    plan = patient.plan.get(disease)
    if plan is None:
        opens_on, due_on = rules.first_window(day, cfg)
        plan = patient.plan[disease] = [opens_on, due_on, "first", 0, None]
    plan[4] = visit_id
    if outcome.needs_recheck:
        if outcome.due_on < plan[1]:
            plan[0], plan[1] = min(plan[0], outcome.opens_on), outcome.due_on
        if outcome.priority > plan[3] or (outcome.priority == plan[3] and plan[2] in ("routine", "first")):
            plan[2], plan[3] = outcome.reason, outcome.priority


def _open_plan(patient: _Patient, disease: str, today: date, cfg: dict, stats: dict, now) -> list:
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
