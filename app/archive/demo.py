"""Demo data: the yearly health checks (健康体检表) and TCM services (中医体质辨识) of the demo district.

``seed_checks(ctx)`` (step "checks", a step of ``app.demo.seed``): per centre, this year's health
checks for a share of its residents aged 65 or over just below the centre's 老年人规范健康管理
target (the targets table's ``elderly_std_mgmt_target_64pct`` ÷ ``elderly_65_plus``), TCM
constitution identification with guidance just below ``elderly_tcm_target_74pct``, and the two
years before at similar rates (so the archive's three-year comparison compares something);
certified disabled residents under 65 get a yearly check about as often. Each check lies between
1 January and the seed day (the two years before: anywhere in the year), by the team's leading
doctor, with plausible measurements of the national form and the 65+ items for the elderly.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from app.archive import child_schedule
from app.archive.models import ChildCheck, HealthCheck, ServiceRecord
from app.archive.services import self_care_level
from app.common.measures import bmi
from app.common.time import age_on
from app.extensions import db
from app.residents.models import Resident
from app.residents.populations import ELDERLY_AGE

CONSTITUTIONS = (
    ("balanced", 0.30),
    ("qi_deficiency", 0.16),
    ("yang_deficiency", 0.12),
    ("yin_deficiency", 0.10),
    ("phlegm_dampness", 0.12),
    ("damp_heat", 0.06),
    ("blood_stasis", 0.07),
    ("qi_stagnation", 0.05),
    ("special", 0.02),
)
GUIDANCE = ("emotional", "diet", "daily_life", "exercise", "acupoint")


def _share(rng: random.Random, target: float) -> float:
    """A rate close to the target, mostly below it (about one centre in six just above)."""
    return min(1.0, target * rng.uniform(0.86, 1.03))


def _day_in(rng: random.Random, year: int, today: date) -> date:
    start = date(year, 1, 1)
    end = today if year == today.year else date(year, 12, 31)
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _check(rng: random.Random, ref, site_id: int, doctor: int | None, on: date, elderly: bool, now) -> dict:
    sbp = max(95, min(190, round(rng.gauss(138 if elderly else 126, 16))))
    height = round(rng.gauss(168 if ref.sex == "male" else 157, 6), 1)
    weight = round(max(38.0, rng.gauss(66 if ref.sex == "male" else 57, 9)), 1)
    glucose = round(max(3.9, rng.gauss(5.9 if elderly else 5.4, 1.1)), 1)
    abnormal = sbp >= 140 or glucose >= 7.0
    return {
        "resident_id": ref.id,
        "checked_on": on,
        "institution_id": site_id,
        "recorded_by_id": doctor,
        "sbp": sbp,
        "dbp": max(55, min(sbp - 25, round(rng.gauss(82, 9)))),
        "heart_rate": round(rng.gauss(74, 8)),
        "weight_kg": weight,
        "fasting_glucose": glucose,
        "temperature": round(rng.uniform(36.1, 37.1), 1),
        "respiration": rng.randint(16, 20),
        "height_cm": height,
        "waist_cm": round(rng.gauss(86 if ref.sex == "male" else 80, 8), 1),
        "bmi": bmi(weight, height),
        "symptoms": [],
        "lifestyle": {},
        "elderly": _elderly_items(rng) if elderly else None,
        "organ_function": {},
        "physical_exam": {},
        "labs": {},
        "main_findings": [],
        "medications": [],
        "assessment": "abnormal" if abnormal else "normal",
        "abnormalities": (["血压偏高"] if sbp >= 140 else []) + (["空腹血糖偏高"] if glucose >= 7.0 else []),
        "guidance": ["recheck"] if abnormal else [],
        "risk_factor_guidance": ["diet", "exercise"] if abnormal else [],
        "note": None,
        "created_at": now,
    }


def _elderly_items(rng: random.Random) -> dict:
    score = rng.choices((0, rng.randint(1, 3), rng.randint(4, 8), rng.randint(9, 18)), (70, 18, 8, 4))[0]
    return {
        "self_care_score": score,
        "self_care_level": self_care_level(score),
        "health_self_assessment": rng.choices((1, 2, 3, 4, 5), (20, 40, 28, 9, 3))[0],
        "cognitive_screen": "positive" if rng.random() < 0.06 else "negative",
        "emotional_screen": "positive" if rng.random() < 0.05 else "negative",
    }


def _tcm(rng: random.Random, ref, site_id: int, doctor: int | None, on: date, now) -> dict:
    names, weights = zip(*CONSTITUTIONS, strict=True)
    constitution = rng.choices(names, weights)[0]
    guidance = sorted(rng.sample(GUIDANCE, rng.randint(2, 4)), key=GUIDANCE.index)
    return {
        "resident_id": ref.id,
        "kind": "tcm",
        "served_on": on,
        "institution_id": site_id,
        "recorded_by_id": doctor,
        "summary": "中医体质辨识及中医药保健指导",
        "details": {"tcm": {"constitution": [constitution], "guidance": guidance}},
        "sbp": None,
        "dbp": None,
        "heart_rate": None,
        "weight_kg": None,
        "fasting_glucose": None,
        "created_at": now,
    }


def _child_check(rng: random.Random, ref, site_id, doctor, kind, on: date, eye: bool, tcm: bool, now) -> dict:
    months = (on - ref.birth_on).days / 30.4
    boy = ref.sex == "male"
    # rough medians of the WHO 2006 standard, for plausible numbers (not a judgement)
    weight = (3.3 + 0.75 * min(months, 6) + 0.35 * max(0, min(months, 12) - 6) + 0.19 * max(0, months - 12)) * (
        1.03 if boy else 0.97
    )
    height = 50 + 3.5 * min(months, 3) + 1.9 * max(0, min(months, 12) - 3) + 0.85 * max(0, months - 12)
    return {
        "resident_id": ref.id,
        "kind": kind.kind,
        "checked_on": on,
        "age_days": (on - ref.birth_on).days,
        "institution_id": site_id,
        "recorded_by_id": doctor,
        "weight_kg": round(weight * rng.uniform(0.9, 1.1), 1),
        "height_cm": round(height * rng.uniform(0.96, 1.04), 1),
        "head_circumference_cm": round(34 + 8 * min(months, 12) / 12 + 0.1 * max(0, months - 12), 1)
        if months <= 36
        else None,
        "hemoglobin": None,
        "development": "normal" if rng.random() < 0.97 else "suspected",
        "eye_checked": eye,
        "eye": {"result": "normal" if rng.random() < 0.96 else "abnormal"} if eye else None,
        "tcm_guidance": sorted(rng.sample(("diet", "daily_life", "abdominal_massage"), 2)) if tcm else [],
        "guidance": ["feeding", "development", "disease_prevention"],
        "note": None,
        "created_at": now,
    }


def seed_child_checks(ctx) -> None:
    """Step "child_checks": the checks of each child 0–6 whose window has opened — per centre, the
    children reached this year just below its 7岁以下儿童健康管理 target (the targets table's
    ``under7_mgmt_target_90pct`` ÷ ``children_0_6``) with nearly every check, the eye check from 6
    months on for a share near ``child_eye_check_target_90pct``, TCM guidance at its ages."""
    rows = []
    for centre in ctx.centres:
        target = centre.target
        rng = ctx.rng("child_checks", centre.code)
        # a child the team reaches this year has nearly every check; the share reached is near the
        # 7岁以下儿童健康管理 target, so the under-3 and TCM rates land near theirs too
        reached = _share(rng, target["under7_mgmt_target_90pct"] / (target["children_0_6"] or 1))
        each = {True: 0.95, False: 0.97}  # an under-3 check / another
        eye_rate = min(
            1.0, _share(rng, target["child_eye_check_target_90pct"] / (target["children_0_6"] or 1)) / reached
        )
        tcm_rate = 0.95
        for ref in ctx.residents.get(centre.code, []):
            if age_on(ref.birth_on, ctx.today) > 6:
                continue
            doctor = centre.team_leader.get(ref.team_id)
            this_year = rng.random() < reached
            eyes = rng.random() < eye_rate
            for kind in child_schedule.KINDS:
                opens_on, due_on = child_schedule.window(ref.birth_on, kind)
                if opens_on > ctx.today or rng.random() > each[kind.under3]:
                    continue
                last = min(due_on, ctx.today)
                on = opens_on + timedelta(days=rng.randrange((last - opens_on).days + 1))
                if on.year == ctx.today.year and not this_year:
                    continue
                eye = eyes and kind.opens_day >= 167
                tcm = kind.tcm and rng.random() < tcm_rate
                rows.append(_child_check(rng, ref, ref.site_id, doctor, kind, on, eye, tcm, ctx.now))
    ctx.insert(ChildCheck, rows)
    ctx.notes.append(f"Child health checks: {len(rows)} (0–6 years).")


def seed_checks(ctx) -> None:
    """This year's and the two previous years' checks and TCM services (see the module docstring)."""
    disabled = set(db.session.scalars(select(Resident.id).where(Resident.disabled_certified.is_(True))))
    checks, services = [], []
    for centre in ctx.centres:
        target = centre.target
        rng = ctx.rng("checks", centre.code)
        elderly_total = target["elderly_65_plus"] or 1
        check_rate = _share(rng, target["elderly_std_mgmt_target_64pct"] / elderly_total)
        tcm_rate = _share(rng, target["elderly_tcm_target_74pct"] / elderly_total)
        for ref in ctx.residents.get(centre.code, []):
            doctor = centre.team_leader.get(ref.team_id)
            for year in (ctx.today.year, ctx.today.year - 1, ctx.today.year - 2):
                day = _day_in(rng, year, ctx.today)
                age = age_on(ref.birth_on, day)
                elderly = age >= ELDERLY_AGE
                if not elderly and not (ref.id in disabled and age >= 18):
                    continue
                if rng.random() < check_rate:
                    checks.append(_check(rng, ref, ref.site_id, doctor, day, elderly, ctx.now))
                if elderly and rng.random() < tcm_rate:
                    tcm_day = min(ctx.today, day + timedelta(days=rng.randint(0, 20)))
                    if tcm_day.year == year:
                        services.append(_tcm(rng, ref, ref.site_id, doctor, tcm_day, ctx.now))
    ctx.insert(HealthCheck, checks)
    ctx.insert(ServiceRecord, services)
    this_year = sum(1 for c in checks if c["checked_on"].year == ctx.today.year)
    ctx.notes.append(
        f"Health checks: {len(checks)} over three years ({this_year} this year); TCM services: {len(services)}."
    )
