"""Key populations (docs/domain.md §3), derived from age, diagnoses and flags — never typed in.

Each population is defined once, twice over: as a Python predicate for one
resident in hand, and as a SQL clause for set-based queries. Both read the same
constants so the phone, the worklists and the indicators agree.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, exists, select

from app.common.time import age_on, years_before
from app.residents.models import Condition, Resident

ELDERLY_AGE = 65
# Pregnant: from the registration until the delivery is recorded (``pregnancy_due_on`` is the ongoing
# pregnancy's expected date, cleared by the delivery) — at most two weeks past the expected date (42 weeks).
PREGNANT_PAST_DUE = timedelta(days=14)
CHILD_MAX_AGE = 6  # 0–6 岁: up to the day before the 7th birthday
CHRONIC_MIN_AGE = 35
POPULATIONS = (
    "elderly",
    "children_0_6",
    "hypertension",
    "t2dm",
    "pregnant",
    "disabled",
    "poverty_alleviated",
    "special_family",
)


def populations_of(resident: Resident, today: date, diseases: set[str] | None = None) -> list[str]:
    if diseases is None:
        diseases = {c.disease for c in resident.conditions if c.active}
    age = age_on(resident.birth_on, today)
    found = []
    if age >= ELDERLY_AGE:
        found.append("elderly")
    if age <= CHILD_MAX_AGE:
        found.append("children_0_6")
    found.extend(d for d in ("hypertension", "t2dm") if d in diseases)
    if resident.pregnancy_due_on and resident.pregnancy_due_on >= today - PREGNANT_PAST_DUE:
        found.append("pregnant")
    if resident.disabled_certified:
        found.append("disabled")
    if resident.poverty_alleviated:
        found.append("poverty_alleviated")
    if resident.special_family:
        found.append("special_family")
    return found


def has_condition(disease: str):
    return exists(
        select(Condition.id).where(Condition.resident_id == Resident.id, Condition.disease == disease, Condition.active)
    )


def population_clause(population: str, today: date):
    """SQL clause over ``Resident`` selecting one population on ``today``."""
    if population == "elderly":
        return Resident.birth_on <= years_before(today, ELDERLY_AGE)
    if population == "children_0_6":
        return Resident.birth_on > years_before(today, CHILD_MAX_AGE + 1)
    if population in ("hypertension", "t2dm"):
        return has_condition(population)
    if population == "pregnant":
        return and_(Resident.pregnancy_due_on.is_not(None), Resident.pregnancy_due_on >= today - PREGNANT_PAST_DUE)
    if population == "disabled":
        return Resident.disabled_certified.is_(True)
    if population == "poverty_alleviated":
        return Resident.poverty_alleviated.is_(True)
    if population == "special_family":
        return Resident.special_family.is_(True)
    raise ValueError(f"unknown population {population!r}")
