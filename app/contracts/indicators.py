"""Signing indicators (签约率, 以家庭为单位签约率, 续约率) against the 2024 targets (DOMAIN.md §5).

Definitions, all "as of" a day D (default today), over the residents of a scope (an
institution's subtree, or the residents whose responsible team is a team) whose
archive is active:
- signed on D: a signed contract whose period covers D and that was not terminated on
  or before D (periods, not statuses: any past day can be evaluated, and a late job
  changes nothing);
- 签约率 (overall and per population): signed ÷ residents (of that population on D);
  the overall target is last year's rate (same scope, signed on D minus one year) + 3 pp;
- 重点人群以家庭为单位签约率: key-population residents signed under a family contract ÷
  key-population residents (key = any of the populations below);
- 续约率: residents whose contract period ended in the year before D (not terminated)
  and who signed a later contract (by D) ÷ those residents.

Everything is one query: contracts are folded per resident (GROUP BY), joined to the
residents with the population clauses of ``residents.populations`` as 0/1 flags, and
summed. No loop over residents.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, text

from app.access.scope import get_institution, get_team
from app.common.time import local_midnight_utc, today, years_before
from app.contracts.models import Contract
from app.extensions import db
from app.orgs.models import Institution
from app.residents.models import Resident
from app.residents.populations import population_clause

# (indicator, label, population or None, 2024 target)
POPULATION_TARGETS = (
    ("signing_rate_elderly", "老年人签约率", "elderly", 0.88),
    ("signing_rate_hypertension", "高血压患者签约率", "hypertension", 0.78),
    ("signing_rate_t2dm", "2型糖尿病患者签约率", "t2dm", 0.78),
    ("signing_rate_children_0_6", "0-6岁儿童签约率", "children_0_6", 0.78),
    ("signing_rate_pregnant", "孕产妇签约率", "pregnant", 0.78),
    ("signing_rate_disabled", "持证残疾人签约率", "disabled", 0.70),
    ("signing_rate_poverty_alleviated", "脱贫人口签约率", "poverty_alleviated", 1.00),
    ("signing_rate_special_family", "计生特殊家庭签约率", "special_family", 1.00),
)
KEY_POPULATIONS = tuple(p for _, _, p, _ in POPULATION_TARGETS)
OVERALL_GAIN = 0.03  # +3 pp on last year
FAMILY_TARGET = 0.20
RENEWAL_TARGET = 0.80


def _in_force(on: date):
    return and_(Contract.starts_on <= on, Contract.ends_on >= on,
                or_(Contract.terminated_on.is_(None), Contract.terminated_on > on))


def _flag(clause):
    return case((clause, 1), else_=0)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _row(indicator: str, label: str, numerator: int, denominator: int, target: float | None,
         population: str | None = None) -> dict:
    rate = _rate(numerator, denominator)
    return {"indicator": indicator, "label": label, "population": population, "numerator": numerator,
            "denominator": denominator, "rate": rate, "target": target,
            "met": None if rate is None or target is None else rate >= target - 1e-9}


def indicator_rows(*, on: date | None = None, institution_path: str | None = None,
                   team_id: int | None = None) -> list[dict]:
    """Rows ``{indicator, numerator, denominator, rate, target, met}`` (plus label, population).

    No authorisation here: callers scope (``signing_indicators`` for the API). Without a
    path or team, the whole district.
    """
    on = on or today()
    last_year = years_before(on, 1)
    cutoff = local_midnight_utc(on + timedelta(days=1))  # signed by the end of D
    ended_in_window = and_(Contract.ends_on >= last_year, Contract.ends_on < on, Contract.terminated_on.is_(None))
    per_resident = (
        select(Contract.resident_id.label("rid"),
               func.max(_flag(_in_force(on))).label("signed"),
               func.max(_flag(and_(_in_force(on), Contract.family_group_id.is_not(None)))).label("family"),
               func.max(_flag(_in_force(last_year))).label("signed_last_year"),
               func.max(case((ended_in_window, Contract.starts_on), else_=None)).label("ended_start"),
               func.max(Contract.starts_on).label("last_start"))
        .where(Contract.signed_at.is_not(None), Contract.signed_at < cutoff)
        .group_by(Contract.resident_id).subquery("per_resident"))
    population_flags = [_flag(population_clause(p, on)).label(p) for p in KEY_POPULATIONS]
    flags_stmt = (
        select(func.coalesce(per_resident.c.signed, 0).label("signed"),
               func.coalesce(per_resident.c.family, 0).label("family"),
               func.coalesce(per_resident.c.signed_last_year, 0).label("signed_last_year"),
               _flag(per_resident.c.ended_start.is_not(None)).label("renew_base"),
               _flag(and_(per_resident.c.ended_start.is_not(None),
                          per_resident.c.last_start > per_resident.c.ended_start)).label("renewed"),
               *population_flags)
        .select_from(Resident).outerjoin(per_resident, per_resident.c.rid == Resident.id)
        .where(Resident.status == "active"))
    if institution_path is not None:
        flags_stmt = flags_stmt.where(Resident.institution_id.in_(
            select(Institution.id).where(Institution.path.startswith(institution_path))))
    if team_id is not None:
        flags_stmt = flags_stmt.where(Resident.team_id == team_id)
    # MATERIALIZED: each resident's flags are computed once, then summed many ways.
    flags = flags_stmt.cte("signing_flags").prefix_with("MATERIALIZED")
    key = _flag(sum((flags.c[p] for p in KEY_POPULATIONS), literal(0)) > 0)
    columns = [func.count().label("residents"), func.sum(flags.c.signed).label("signed"),
               func.sum(flags.c.signed_last_year).label("signed_last_year"),
               func.sum(key).label("key"), func.sum(key * flags.c.family).label("key_family"),
               func.sum(flags.c.renew_base).label("renew_base"), func.sum(flags.c.renewed).label("renewed")]
    for p in KEY_POPULATIONS:
        columns += [func.sum(flags.c[p]).label(f"{p}_all"), func.sum(flags.c[p] * flags.c.signed).label(f"{p}_signed")]
    if db.session.get_bind().dialect.name == "postgresql":
        # The planner's estimate for the per-resident flags is high enough to trigger JIT
        # compilation, which costs seconds and gains nothing here (this transaction only).
        db.session.execute(text("SET LOCAL jit = off"))
    totals = {k: int(v or 0) for k, v in db.session.execute(select(*columns)).one()._mapping.items()}

    last_rate = _rate(totals["signed_last_year"], totals["residents"])
    overall_target = None if last_rate is None else round(min(1.0, last_rate + OVERALL_GAIN), 4)
    rows = [_row("signing_rate", "签约率", totals["signed"], totals["residents"], overall_target)]
    for indicator, label, population, target in POPULATION_TARGETS:
        rows.append(_row(indicator, label, totals[f"{population}_signed"], totals[f"{population}_all"], target,
                         population))
    rows.append(_row("family_signing_rate", "重点人群以家庭为单位签约率", totals["key_family"], totals["key"],
                     FAMILY_TARGET))
    rows.append(_row("renewal_rate", "续约率", totals["renewed"], totals["renew_base"], RENEWAL_TARGET))
    return rows


def signing_indicators(actor, *, institution_id: int | None = None, team_id: int | None = None,
                       on: date | None = None) -> dict:
    """The indicators for a scope the actor may see (their own institution by default)."""
    on = on or today()
    team = get_team(actor, team_id) if team_id is not None else None
    if institution_id is not None:
        institution = get_institution(actor, institution_id)
    elif team is not None:
        institution = None
    else:
        institution = get_institution(actor, actor.institution_id)
    path = institution.path if institution is not None else None
    if path is not None and institution.parent_id is None:
        path = None  # the district: every resident
    return {"on": on, "institution_id": institution.id if institution else None,
            "team_id": team.id if team else None,
            "rows": indicator_rows(on=on, institution_path=path, team_id=team.id if team else None)}
