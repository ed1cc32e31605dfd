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

from app.archive.models import HealthCheck, ServiceRecord
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
