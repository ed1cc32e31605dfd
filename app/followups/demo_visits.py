"""Demo data: one follow-up patient's state and the visits written for them (for
``app.followups.demo``).

Every visit goes through the same rules as the API (``app.followups.rules``); the patient's open
plan per disease is kept as the API would keep it. Rows are tuples in ``VISIT_COLUMNS`` order and
JSON values shared between rows are serialised once (``ctx.extras["followups_json"]``).
"""

from __future__ import annotations

from datetime import date, timedelta

from app.common.measures import bmi
from app.followups import rules
from app.followups.models import MANAGED_DISEASES

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


def _normal(random, mu: float, sigma: float) -> float:
    """An approximately normal draw (Irwin–Hall, 4 uniforms): cheaper than random.gauss."""
    return mu + sigma * (random() + random() + random() + random() - 2.0) * 1.7320508


class Patient:
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


class VisitWriter:
    """Writes one patient's visits (tuples in VISIT_COLUMNS order)."""

    def __init__(self, ctx, rng, patient: Patient, cfg: dict, doctor, visits: list, next_id: int):
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


def _follow_plan(patient: Patient, disease: str, outcome, method: str, day: date, visit_id: int, cfg) -> None:
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
