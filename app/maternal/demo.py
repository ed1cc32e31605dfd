"""Demo step "pregnancies": the district's mothers, as the targets table's second half says.

Per centre, ``live_births_2023`` × scale deliveries in the twelve months before the seed day: each is
the birth of a baby of the "residents" step born in that time, and its mother a woman of 20–45 of the
baby's household (a baby whose household has none moves in with a woman of the centre who can be). Registration is early (before 13 weeks) for a share just below the
孕产妇系统管理 target (``maternal_sys_mgmt_target_90pct`` ÷ ``live_births_2023``); the schedule's
antenatal visits are nearly all made (a high-risk pregnancy's seven); the postpartum home visit lands
within a week of discharge for a share just below ``postpartum_visit_target_90pct``, the 42-day check
for most. As many women again are pregnant now (due within 9 months, registered once past 6 weeks):
their visits so far, and the basic sheet's ``pregnancy_due_on`` — the pregnancy's expected date.
Rows are numbered by the seed; the plans follow in step "checkup_plans" from the job's own statements.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, select, update

from app.common.time import age_on, years_before
from app.extensions import db
from app.maternal import schedule
from app.maternal.models import AntenatalVisit, Birth, PostpartumVisit, Pregnancy
from app.maternal.services import ADVANCED_AGE
from app.residents.models import Household, Resident

RISKS = ("anaemia", "hypertension", "gestational_diabetes", "previous_caesarean", "thyroid_disease")


def _share(rng: random.Random, target: float) -> float:
    """A rate close to the target, mostly below it (about one centre in six just above)."""
    return min(1.0, target * rng.uniform(0.86, 1.03))


def _between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange(max(0, (last - first).days) + 1))


class _Rows:
    def __init__(self, ctx):
        self.ctx = ctx
        self.pregnancies, self.antenatal, self.births, self.postpartum_visits = [], [], [], []

    def pregnancy(self, rng, mother, lmp: date, registered_days: int, site: int, doctor, **end) -> dict:
        expected = schedule.expected_on(lmp)
        factors = [rng.choice(RISKS)] if rng.random() < 0.15 else []
        if age_on(mother.birth_on, expected) >= ADVANCED_AGE:
            factors.append("advanced_age")
        [pid] = self.ctx.allocate_ids(Pregnancy, 1)
        row = {
            "id": pid,
            "resident_id": mother.id,
            "status": end.get("status", "ongoing"),
            "registered_on": lmp + timedelta(days=registered_days),
            "last_menstrual_on": lmp,
            "expected_on": expected,
            "gestational_days_at_registration": registered_days,
            "early_registration": registered_days < schedule.EARLY_REGISTRATION_DAYS,
            "gravidity": rng.choice((1, 1, 2, 2, 3)),
            "parity": None,
            "risk_factors": factors,
            "high_risk": bool(factors),
            "institution_id": site,
            "recorded_by_id": doctor,
            "outcome": end.get("outcome"),
            "delivered_on": end.get("delivered_on"),
            "discharged_on": end.get("discharged_on"),
            "delivery_place": "威海市妇女儿童医院" if end.get("outcome") else None,
            "created_at": self.ctx.now,
            "updated_at": self.ctx.now,
        }
        row["parity"] = rng.randrange(row["gravidity"])
        self.pregnancies.append(row)
        return row

    def visits(self, rng, pregnancy: dict, until: date, site: int, doctor) -> None:
        """The schedule's antenatal visits whose window opened by ``until`` (the first at registration,
        none before it), slotted as the API slots them."""
        p = SimpleNamespace(**pregnancy)  # the schedule reads a pregnancy's attributes
        days = []
        for slot in schedule.antenatal_slots(pregnancy["high_risk"]):
            opens, due = schedule.window(slot, p)
            opens, last = max(opens, p.registered_on), min(due, until)
            if opens > last or (slot.kind != "first" and rng.random() > 0.985):
                continue
            days.append(opens if slot.kind == "first" else _between(rng, opens, last))
        lmp = pregnancy["last_menstrual_on"]
        slots = schedule.slots_of_visits(pregnancy["high_risk"], [(on - lmp).days for on in days])
        for on, slot in zip(days, slots, strict=True):
            self.antenatal.append(
                {
                    "pregnancy_id": pregnancy["id"],
                    "resident_id": pregnancy["resident_id"],
                    "visit_on": on,
                    "gestational_days": (on - lmp).days,
                    "slot": slot,
                    "institution_id": site,
                    "recorded_by_id": doctor,
                    "sbp": round(rng.gauss(112, 9)),
                    "dbp": round(rng.gauss(72, 7)),
                    "weight_kg": round(rng.gauss(58, 7) + (on - lmp).days / 28, 1),
                    "fundal_height_cm": None,
                    "abdominal_circumference_cm": None,
                    "fetal_heart_rate": rng.randint(125, 160) if slot != "first" else None,
                    "fetal_position": None,
                    "hemoglobin": round(rng.gauss(118, 10), 0),
                    "urine_protein": "-",
                    "risk_factors": [],
                    "classification": "normal",
                    "guidance": ["nutrition", "lifestyle"],
                    "referred": False,
                    "note": None,
                    "created_at": self.ctx.now,
                }
            )

    def postpartum(self, pregnancy: dict, kind: str, on: date, site: int, doctor) -> None:
        self.postpartum_visits.append(
            {
                "pregnancy_id": pregnancy["id"],
                "resident_id": pregnancy["resident_id"],
                "kind": kind,
                "visit_on": on,
                "days_after_delivery": (on - pregnancy["delivered_on"]).days,
                "institution_id": site,
                "recorded_by_id": doctor,
                "sbp": None,
                "dbp": None,
                "temperature_c": None,
                "breasts": "normal",
                "lochia": "normal",
                "uterus": "normal",
                "wound": "normal",
                "mental": "normal",
                "classification": "recovered",
                "guidance": ["breastfeeding", "newborn_care"],
                "referred": False,
                "note": None,
                "created_at": self.ctx.now,
            }
        )


def _mothers_by_household(refs, today: date) -> dict:
    oldest, youngest = years_before(today, 46), years_before(today, 20)
    found = defaultdict(list)
    for ref in refs:
        if ref.sex == "female" and oldest < ref.birth_on <= youngest:
            found[ref.household_id].append(ref)
    return found


def _move(refs: list, position: dict, baby, mother, moved: list):
    """The baby joins the mother's household (and team, and site): in the database and for later steps."""
    moved.append({"rid": baby.id, "household": mother.household_id, "team": mother.team_id, "site": mother.site_id})
    index = position[baby.id]
    refs[index] = baby._replace(household_id=mother.household_id, team_id=mother.team_id, site_id=mother.site_id)
    return refs[index]


def seed_pregnancies(ctx) -> None:
    today, year_ago = ctx.today, ctx.today - timedelta(days=365)
    rows = _Rows(ctx)
    due_dates, moved = [], []
    for centre in ctx.centres:
        target, refs = centre.target, ctx.residents.get(centre.code, [])
        rng = ctx.rng("pregnancies", centre.code)
        births = target["live_births_2023"] or 1
        early_rate = min(1.0, _share(rng, target["maternal_sys_mgmt_target_90pct"] / births) / 0.93)
        home_rate = _share(rng, target["postpartum_visit_target_90pct"] / births)
        women = _mothers_by_household(refs, today)
        babies = [r for r in refs if year_ago < r.birth_on <= today]
        mothers, position = set(), None
        spare = [w for group in women.values() for w in group]
        rng.shuffle(spare)
        for baby in sorted(rng.sample(babies, min(len(babies), ctx.scaled(births))), key=lambda r: r.id):
            free = [w for w in women.get(baby.household_id, ()) if w.id not in mothers]
            if free:
                mother = rng.choice(free)
            else:  # nobody of the household could be the mother: the baby lives with a woman who can
                while spare and spare[-1].id in mothers:
                    spare.pop()
                if not spare:
                    continue
                mother = spare.pop()
                position = position or {ref.id: i for i, ref in enumerate(refs)}
                baby = _move(refs, position, baby, mother, moved)
            mothers.add(mother.id)
            doctor = centre.team_leader.get(mother.team_id)
            early = rng.random() < early_rate
            lmp = baby.birth_on - timedelta(days=rng.randint(266, 287))
            registered = rng.randint(42, 90) if early else rng.randint(91, 150)
            discharged = baby.birth_on + timedelta(days=rng.randint(1, 5))
            pregnancy = rows.pregnancy(
                rng, mother, lmp, registered, mother.site_id, doctor,
                status="delivered", outcome="live_birth", delivered_on=baby.birth_on, discharged_on=discharged,
            )  # fmt: skip
            rows.visits(rng, pregnancy, baby.birth_on, mother.site_id, doctor)
            rows.births.append(
                {
                    "pregnancy_id": pregnancy["id"],
                    "resident_id": baby.id,
                    "live": True,
                    "sex": baby.sex,
                    "birth_weight_g": round(rng.gauss(3300, 420)),
                }
            )
            home = discharged + timedelta(days=rng.randint(3, 7) if rng.random() < home_rate else rng.randint(29, 40))
            if home <= today and rng.random() < 0.98:
                rows.postpartum(pregnancy, "home_visit", home, mother.site_id, doctor)
            day42 = baby.birth_on + timedelta(days=rng.randint(42, 56))
            if day42 <= today and rng.random() < 0.88:
                rows.postpartum(pregnancy, "day42_check", day42, mother.site_id, doctor)
        # the women pregnant now: as many again, registered once past 6 weeks
        candidates = [w for group in women.values() for w in group if w.id not in mothers]
        weights = [6.0 if w.married else 1.0 for w in candidates]
        for woman in sorted(ctx.weighted_sample(rng, candidates, weights, ctx.scaled(births)), key=lambda r: r.id):
            lmp = today - timedelta(days=rng.randint(10, 273))
            gestation = (today - lmp).days
            if gestation < 42:
                continue  # not registered yet
            early = rng.random() < early_rate
            registered = min(gestation, rng.randint(42, 90) if early else rng.randint(91, 150))
            doctor = centre.team_leader.get(woman.team_id)
            pregnancy = rows.pregnancy(rng, woman, lmp, registered, woman.site_id, doctor)
            rows.visits(rng, pregnancy, today, woman.site_id, doctor)
            ctx.pregnant[woman.id] = pregnancy["expected_on"]
            due_dates.append({"rid": woman.id, "due": pregnancy["expected_on"]})
    for model, batch in ((Pregnancy, rows.pregnancies), (AntenatalVisit, rows.antenatal), (Birth, rows.births),
                         (PostpartumVisit, rows.postpartum_visits)):  # fmt: skip
        ctx.insert(model, batch)
    ctx.use_database_ids(Pregnancy)
    table = Resident.__table__
    if moved:
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(
                household_id=bindparam("household"),
                team_id=bindparam("team"),
                institution_id=bindparam("site"),
                relation_to_head=None,
                address=select(Household.address).where(Household.id == bindparam("household")).scalar_subquery(),
            ),
            moved,
        )
    statement = update(table).where(table.c.id == bindparam("rid")).values(pregnancy_due_on=bindparam("due"))
    if due_dates:
        db.session.execute(statement, due_dates)
    delivered = sum(1 for p in rows.pregnancies if p["outcome"])
    ctx.notes.append(
        f"Pregnancies: {delivered} live births in the last 12 months, {len(due_dates)} ongoing; "
        f"{len(rows.antenatal)} antenatal and {len(rows.postpartum_visits)} postpartum visits."
    )
