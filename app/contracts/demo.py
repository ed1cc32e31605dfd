"""Demo step: the district's service packages and a realistic signing picture.

``seed_contracts(ctx)`` (a step of ``app.demo.seed``) writes:
- the district catalogue: a basic package (30-yuan public-health share) and one
  personalised package per key population, offered by the bureau (so everywhere);
- current contracts for a share of residents a little below the 2024 targets
  (elderly ≈ 86 %, chronic ≈ 76 %, children ≈ 75 %, disabled ≈ 67 %, poverty-alleviated
  ≈ 97 % …; overall ≈ last year + 2 pp), periods spread over the past year so that some
  end within 30 days; most of them continue a previous period (renewal ≈ 77 %), some of
  the soon-ending ones are already renewed (``scheduled``) or asked for (``renewal_pending``);
  about a third of households sign as a family;
- last year's contracts that were not renewed (expired), a few voluntary terminations,
  and some pending applications for the teams' worklists;
- entitlements (items) and their deliveries, delivered in proportion to the time elapsed.

Decisions are made here, in Python over ``ctx.residents`` with ``ctx.rng`` (deterministic);
the packages are in ``app.contracts.demo_catalogue``; ``app.contracts.demo_contracts`` writes the
rows with bulk inserts, items and deliveries as ``INSERT … SELECT`` statements on the server, so
478,600 residents take seconds, not minutes.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select

from app.common.time import age_on
from app.contracts.demo_catalogue import build_catalogue
from app.contracts.demo_contracts import BULK_TABLES, foreign_keys_checked_once, write_contracts
from app.contracts.periods import plus_one_year
from app.extensions import db
from app.residents.models import Resident

# Chance of holding a contract now, by the "strongest" population (a little below target).
# (Elderly patients count at the elderly rate, which lifts the chronic and disabled rates.)
SIGN_RATE = {
    "poverty_alleviated": 0.97,
    "special_family": 0.96,
    "elderly": 0.86,
    "pregnant": 0.82,
    "t2dm": 0.70,
    "hypertension": 0.69,
    "children_0_6": 0.75,
    "disabled": 0.55,
}
GENERAL_RATE = 0.34
RENEWED_SHARE = 0.74  # current contracts that continue last year's
LAPSED_SHARE = 0.195  # of the unsigned: last year's contract ended and was not renewed
TERMINATED_SHARE = 0.01  # of the unsigned: ended early this year (voluntary)
PENDING_SHARE = 0.006  # of the unsigned: an application waiting for the team
FAMILY_SHARE = 0.33  # households whose signing members sign together
EARLY_RENEWAL_SHARE = 0.3  # of contracts ending within 30 days: already renewed (scheduled)
ASKED_RENEWAL_SHARE = 0.1  # … or the resident asked (renewal_pending)


def _populations(ref, today: date, conditions: dict, pregnant: dict, flags: dict) -> list[str]:
    age = age_on(ref.birth_on, today)
    found = []
    if age >= 65:
        found.append("elderly")
    if age <= 6:
        found.append("children_0_6")
    for disease in ("hypertension", "t2dm"):
        if ref.id in conditions.get(disease, ()):
            found.append(disease)
    if pregnant.get(ref.id) and pregnant[ref.id] >= today:
        found.append("pregnant")
    found.extend(flags.get(ref.id, ()))
    return found


def seed_contracts(ctx) -> None:
    with foreign_keys_checked_once(BULK_TABLES):
        _seed_contracts(ctx)


def _seed_contracts(ctx) -> None:
    today = ctx.today
    by_code, by_population = build_catalogue(ctx)
    basic = by_code["HC-BASIC"]
    flags: dict[int, list[str]] = {}
    for rid, disabled, poor, special in db.session.execute(
        select(Resident.id, Resident.disabled_certified, Resident.poverty_alleviated, Resident.special_family).where(
            or_(
                Resident.disabled_certified.is_(True),
                Resident.poverty_alleviated.is_(True),
                Resident.special_family.is_(True),
            )
        )
    ):
        flags[rid] = [
            name
            for name, on in (("disabled", disabled), ("poverty_alleviated", poor), ("special_family", special))
            if on
        ]
    leaders = {team_id: staff_id for centre in ctx.centres for team_id, staff_id in centre.team_leader.items()}

    plans = []  # one dict per contract to write, in order
    for centre in ctx.centres:
        rng = ctx.rng("contracts", centre.code)
        refs = ctx.residents.get(centre.code, ())
        households: dict[int, list] = {}
        for ref in refs:
            households.setdefault(ref.household_id, []).append(ref)
        for household_id, members in households.items():
            family = len(members) > 1 and rng.random() < FAMILY_SHARE
            adults = [m for m in members if age_on(m.birth_on, today) >= 18]
            current = []
            for ref in members:
                pops = _populations(ref, today, ctx.conditions, ctx.pregnant, flags)
                rate = max((SIGN_RATE[p] for p in pops), default=GENERAL_RATE)
                guardian = None
                if age_on(ref.birth_on, today) < 14:
                    guardian = adults[0].id if adults else None
                    if guardian is None:
                        continue  # nobody to sign for the child
                packages = [basic] + [by_population[p] for p in pops if p in by_population]
                base = dict(ref=ref, packages=packages, guardian=guardian, leader=leaders.get(ref.team_id))
                if rng.random() < rate:
                    starts = today - timedelta(days=rng.randrange(365))
                    plan = dict(base, kind="current", starts=starts, renewed=rng.random() < RENEWED_SHARE)
                    ends = plus_one_year(starts) - timedelta(days=1)
                    if (ends - today).days <= 30:
                        draw = rng.random()
                        plan["next"] = (
                            "scheduled"
                            if draw < EARLY_RENEWAL_SHARE
                            else "renewal_pending"
                            if draw < EARLY_RENEWAL_SHARE + ASKED_RENEWAL_SHARE
                            else None
                        )
                    current.append(plan)
                    plans.append(plan)
                    continue
                draw = rng.random()
                if draw < LAPSED_SHARE:  # a period that ended within the last year
                    starts = today - timedelta(days=365 + 1 + rng.randrange(364))
                    plans.append(dict(base, kind="lapsed", starts=starts))
                elif draw < LAPSED_SHARE + TERMINATED_SHARE:
                    starts = today - timedelta(days=60 + rng.randrange(300))
                    stopped = starts + timedelta(days=30 + rng.randrange((today - starts).days - 30))
                    plans.append(dict(base, kind="terminated", starts=starts, stopped=stopped))
                elif draw < LAPSED_SHARE + TERMINATED_SHARE + PENDING_SHARE:
                    plans.append(dict(base, kind="pending", applied=today - timedelta(days=rng.randrange(7))))
            if family and len(current) > 1:
                for plan in current:
                    plan["family_household"] = household_id

    write_contracts(ctx, plans, today, basic["id"])
