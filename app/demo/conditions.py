"""Demo step "conditions": the hypertension and T2DM patients the targets table asks for (the
pregnancies are ``app.maternal.demo``'s)."""

from __future__ import annotations

from datetime import date, timedelta

from app.common import time as clock
from app.demo.context import SeedContext
from app.residents.models import Condition


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# Relative prevalence by age band (35–44, 45–54, 55–64, 65+)
_HTN_WEIGHTS = (1.0, 2.5, 4.0, 5.5)
_T2DM_WEIGHTS = (0.4, 1.0, 1.8, 2.2)


def build_conditions(ctx: SeedContext) -> None:
    """The task target counts (应管人数) of hypertension and T2DM patients, all 35+."""
    today = ctx.today
    limits = [clock.years_before(today, age) for age in (35, 45, 55, 65)]
    rows = []
    for centre in ctx.centres:
        rng = ctx.rng("conditions", centre.code)
        eligible, bands = [], []
        for ref in ctx.residents.get(centre.code, ()):
            if ref.birth_on <= limits[0]:
                eligible.append(ref)
                bands.append(sum(ref.birth_on <= limit for limit in limits) - 1)
        htn = ctx.weighted_sample(
            rng, eligible, [_HTN_WEIGHTS[b] for b in bands], ctx.scaled(centre.target["htn_target_count"])
        )
        htn_ids = {ref.id for ref in htn}
        t2dm = ctx.weighted_sample(
            rng,
            eligible,
            [_T2DM_WEIGHTS[b] * (2.5 if ref.id in htn_ids else 1.0) for ref, b in zip(eligible, bands, strict=True)],
            ctx.scaled(centre.target["t2dm_target_count"]),
        )
        for disease, chosen in (("hypertension", htn), ("t2dm", t2dm)):
            chosen.sort(key=lambda ref: ref.id)
            ids = ctx.allocate_ids(Condition, len(chosen))
            for condition_id, ref in zip(ids, chosen, strict=True):
                earliest = max(_plus_years(ref.birth_on, 30), clock.years_before(today, 25))
                latest = today - timedelta(days=30)
                diagnosed = earliest + timedelta(days=rng.randrange(max(1, (latest - earliest).days)))
                rows.append(
                    dict(
                        id=condition_id,
                        resident_id=ref.id,
                        disease=disease,
                        diagnosed_on=diagnosed,
                        active=True,
                        recorded_by_id=centre.team_leader.get(ref.team_id),
                        created_at=ctx.now,
                    )
                )
                ctx.conditions.setdefault(disease, set()).add(ref.id)
    ctx.insert(Condition, rows)
