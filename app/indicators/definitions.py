"""THE definition of every indicator (DOMAIN.md §7): one object per indicator, used by every feature.

An indicator is a :class:`Definition`: a **base** and a **numerator**, each a function of an
evaluation :class:`Context` (a year and an "as of" day D in it) returning a SQL boolean clause over
``Resident``. Counting residents where ``base`` holds, and where ``base AND numerator`` holds, gives
the indicator's two numbers; listing the same residents gives the drill-down, so the lists always
agree with the counts. The denominator is

- ``"base"``: the base residents (most indicators);
- ``"service_population"``: the institutions' declared service population (建档率, 规范化档案覆盖率),
  counted by :func:`app.archive.metrics.subtree_population` (the top-most declared figure in a
  subtree, so nothing is counted twice) — the base is then the archives, the numerator's pool;
- ``"target_count"``: the task target count (应管人数) from the targets table (患者管理人数).

Shared terms (each is one function below):

- **archive open on D** (:func:`archive_open`): status ``active``, or moved away / deceased after D
  (``status_changed_on > D``) — so a past D is evaluated as it was;
- the **year window** is 1 January … D; the **dynamic-use window** is D minus one year … D
  (:func:`app.archive.metrics.dynamic_window`);
- populations on D are :func:`app.residents.populations.population_clause`;
- **managed patient** of a disease on D (:func:`managed`): an active hypertension / T2DM diagnosis
  recorded on or before D, and the archive open on D;
- **signed on D** (:func:`signed_on`): a contract signed by the end of D whose period covers D and
  that was not terminated on or before D.

Memberships of other tables' sets go through :meth:`Context.member` / :meth:`Context.member_of`:
plain ``Resident.id IN (subquery)`` for a WHERE (drill-down), and bit tests on the per-resident
:class:`FactSet` while a count is built; results shared by several indicators (a year's follow-up
statistics, the contracts folded per resident, the ranked survey responses) are CTEs memoised on the
context, so one statement computes them once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any, Callable

from sqlalchemy import BigInteger, and_, case, cast, func, literal_column, or_, select, true

from app.common.time import local_midnight_utc, today, years_before
from app.residents.models import Condition, Resident
from app.residents.populations import population_clause

# --- the evaluation context ------------------------------------------------------------------


@dataclass
class Context:
    """When an indicator is evaluated: ``year`` and the day ``as_of`` (in that year).

    ``cache`` memoises the CTEs of one statement (each is named after its day, so several
    contexts can share one query)."""

    year: int
    as_of: date
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    facts: "FactSet | None" = field(default=None, repr=False, compare=False)

    @property
    def since(self) -> date:
        return date(self.year, 1, 1)

    @property
    def cutoff(self):
        """The UTC instant D ends (locally): "by D" means strictly before it."""
        return local_midnight_utc(self.as_of + timedelta(days=1))

    @property
    def tag(self) -> str:
        return self.as_of.strftime("%Y%m%d")

    def memo(self, key: str, build: Callable[[], Any]):
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def last_year(self) -> "Context":
        """The same day a year earlier (for "last year's rate")."""
        day = years_before(self.as_of, 1)
        return Context(day.year, day, self.cache, self.facts)

    def member(self, key: str, ids):
        """"The resident is in the set ``ids``" (a select of resident ids, duplicates allowed).

        Plain: ``Resident.id IN (ids)`` (drill-down, any single clause). While a count is built
        (``facts`` set), a bit test on the residents' joined facts (see :class:`FactSet`)."""
        if self.facts is not None:
            return self.facts.test(key, ids)
        return Resident.id.in_(ids)

    def member_of(self, key: str, cte, condition):
        """"The resident has a row of ``cte`` (a CTE with a ``resident_id`` column) where ``condition``
        holds"; in a count, every set of the same CTE is read in one pass."""
        if self.facts is not None:
            return self.facts.test(key, cte=cte, condition=condition)
        return Resident.id.in_(select(cte.c.resident_id).where(condition))


class FactSet:
    """Every set a count's clauses test, folded into one per-resident row of bit masks.

    A hashed ``IN (subquery)`` in a SELECT list is probed per resident and costs about a microsecond
    per probe; with a dozen sets over half a million residents that is most of the query. Instead,
    each set is selected once, tagged with its bit, and the union is summed per resident (``facts``:
    ``resident_id, b0, b1, …``; sums of distinct powers of two = bit-or, on SQLite too); the residents
    are LEFT JOINed to it once and each membership is ``b & bit <> 0``. Sets read from one CTE
    (:meth:`Context.member_of`: the contracts folded per resident, the year's follow-up statistics,
    the ranked survey responses) share one branch: one pass over the CTE sets all their bits.
    Built in two passes: the first collects the sets (clauses answer ``true``), :meth:`build` makes
    the table, the second pass gets the bit tests. The sets are the very selects the plain clauses
    use, so counts and drill-down lists agree."""

    BITS = 62  # per BIGINT column, sign bit left alone

    def __init__(self):
        self.sets: dict[str, tuple] = {}  # key → ("ids", select) | ("cte", cte, condition)
        self.table = None

    def test(self, key: str, ids=None, *, cte=None, condition=None):
        if key not in self.sets:
            if self.table is not None:
                raise RuntimeError(f"set {key!r} appeared after the facts were built")
            self.sets[key] = ("ids", ids) if cte is None else ("cte", cte, condition)
        if self.table is None:
            return true()
        column, bit = divmod(list(self.sets).index(key), self.BITS)
        return self.table.c[f"b{column}"].op("&")(literal_column(str(1 << bit))) != 0

    def build(self, name: str = "facts"):
        from sqlalchemy import union_all

        columns = max(1, -(-len(self.sets) // self.BITS))
        parts, shared = [], {}
        for index, entry in enumerate(self.sets.values()):
            column, bit = divmod(index, self.BITS)
            if entry[0] == "cte":
                shared.setdefault(id(entry[1]), (entry[1], []))[1].append((column, bit, entry[2]))
                continue
            ids = entry[1].subquery()
            values = [literal_column(str(1 << bit) if c == column else "0").label(f"b{c}") for c in range(columns)]
            parts.append(select(ids.c[0].label("resident_id"), *values).distinct())
        for cte, members in shared.values():
            values = []
            for c in range(columns):
                terms = [func.max(case((condition, 1), else_=0)) * literal_column(str(1 << bit))
                         for column, bit, condition in members if column == c]
                values.append((sum(terms[1:], terms[0]) if terms else literal_column("0")).label(f"b{c}"))
            parts.append(select(cte.c.resident_id.label("resident_id"), *values).group_by(cte.c.resident_id))
        if not parts:
            return None
        every = union_all(*parts).subquery(f"{name}_sets")
        # SUM of BIGINT is NUMERIC on PostgreSQL: back to BIGINT for the bit tests
        self.table = (select(every.c.resident_id,
                             *(cast(func.sum(every.c[f"b{c}"]), BigInteger).label(f"b{c}") for c in range(columns)))
                      .group_by(every.c.resident_id).subquery(name))
        return self.table


def evaluation(year: int | None = None, as_of: date | None = None) -> Context:
    """``as_of`` defaults to today, capped at 31 December of ``year`` (default: this year)."""
    if year is None:
        year = (as_of or today()).year
    if as_of is None:
        as_of = min(today(), date(year, 12, 31))
        if as_of.year < year:  # a future year: nothing has happened yet; evaluate its first day
            as_of = date(year, 1, 1)
    return Context(year, as_of)


# --- shared clauses ------------------------------------------------------------------------------

def archive_open(on: date):
    """The archive is open on ``on``: active, or closed (moved, deceased) only after that day."""
    return or_(Resident.status == "active",
               and_(Resident.status_changed_on.is_not(None), Resident.status_changed_on > on))


def population(name: str, ctx: Context):
    """:func:`app.residents.populations.population_clause` — with the diagnosis populations
    (hypertension, T2DM: an active diagnosis on record) written as a set of the conditions table
    instead of a correlated ``EXISTS``: the same residents (a test checks it), but computed once per
    statement instead of probed per resident."""
    if name in ("hypertension", "t2dm"):
        return ctx.member_of(f"diagnosis:{name}", Condition.__table__,
                             and_(Condition.disease == name, Condition.active))
    return population_clause(name, ctx.as_of)


def health_check_in_year(ctx: Context):
    from app.archive.models import HealthCheck

    return ctx.member(f"health_check:{ctx.year}:{ctx.tag}", select(HealthCheck.resident_id).where(
        HealthCheck.checked_on >= ctx.since, HealthCheck.checked_on <= ctx.as_of))


def tcm_in_year(ctx: Context):
    from app.archive.models import ServiceRecord

    return ctx.member(f"tcm:{ctx.year}:{ctx.tag}", select(ServiceRecord.resident_id).where(
        ServiceRecord.kind == "tcm", ServiceRecord.served_on >= ctx.since, ServiceRecord.served_on <= ctx.as_of))


def standardised_archive(ctx: Context):
    from app.archive.metrics import standardised_clause

    return standardised_clause()


def dynamic_use(ctx: Context):
    from app.archive.metrics import active_residents_select, dynamic_window

    return ctx.member(f"activity:{ctx.tag}", active_residents_select(*dynamic_window(ctx.as_of)))


@cache
def managed(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        diagnosed = and_(Condition.disease == disease, Condition.active.is_(True), Condition.diagnosed_on <= ctx.as_of)
        return and_(archive_open(ctx.as_of), ctx.member_of(f"managed:{disease}:{ctx.tag}", Condition.__table__,
                                                           diagnosed))

    clause.__name__ = f"managed_{disease}"
    return clause


def _followup_stats(ctx: Context):
    """Per patient and disease: face-to-face visits this year and whether the latest is on target
    (:func:`app.followups.indicators.visit_stats`), once per statement."""
    def build():
        from app.followups.indicators import visit_stats

        stats = visit_stats(ctx.since, ctx.as_of)
        return select(stats.c.resident_id, stats.c.disease, stats.c.n, stats.c.ok).cte(f"followup_stats_{ctx.tag}")

    return ctx.memo(f"followup_stats_{ctx.tag}", build)


@cache
def standardised_management(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        from app.followups.indicators import STANDARD_VISITS

        stats = _followup_stats(ctx)
        return ctx.member_of(f"standardised:{disease}:{ctx.year}:{ctx.tag}", stats,
                             and_(stats.c.disease == disease, stats.c.n >= STANDARD_VISITS))

    return clause


@cache
def controlled(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        stats = _followup_stats(ctx)
        return ctx.member_of(f"controlled:{disease}:{ctx.year}:{ctx.tag}", stats,
                             and_(stats.c.disease == disease, stats.c.ok == 1))

    return clause


# signing (DOMAIN.md §5) -------------------------------------------------------------------------

KEY_POPULATIONS = ("elderly", "hypertension", "t2dm", "children_0_6", "pregnant", "disabled",
                   "poverty_alleviated", "special_family")


def _contract_signed_by(ctx: Context):
    from app.contracts.models import Contract

    return and_(Contract.signed_at.is_not(None), Contract.signed_at < ctx.cutoff)


def _in_force(on: date):
    from app.contracts.models import Contract

    return and_(Contract.starts_on <= on, Contract.ends_on >= on,
                or_(Contract.terminated_on.is_(None), Contract.terminated_on > on))


def _contracts(ctx: Context):
    """Per resident, over the contracts signed by the end of D (one pass, once per statement):
    ``signed`` (one in force on D), ``family`` (… under a family contract), ``ended`` (a period
    ended in the year before D, not terminated) and ``renewed`` (a contract starting later than the
    latest such period)."""
    from app.contracts.models import Contract

    def build():
        ended = _ended_in_window(ctx)
        return (select(Contract.resident_id.label("resident_id"),
                       func.max(case((_in_force(ctx.as_of), 1), else_=0)).label("signed"),
                       func.max(case((and_(_in_force(ctx.as_of), Contract.family_group_id.is_not(None)), 1),
                                     else_=0)).label("family"),
                       func.max(case((ended, 1), else_=0)).label("ended"),
                       case((func.max(Contract.starts_on) > func.max(case((ended, Contract.starts_on), else_=None)), 1),
                            else_=0).label("renewed"))
                .where(_contract_signed_by(ctx)).group_by(Contract.resident_id)
                .cte(f"contracts_{ctx.tag}"))

    return ctx.memo(f"contracts_{ctx.tag}", build)


def _with_contract(ctx: Context, column: str):
    flags = _contracts(ctx)
    return ctx.member_of(f"contract_{column}:{ctx.tag}", flags, flags.c[column] == 1)


def signed_on(ctx: Context):
    """Signed on D: a contract signed by the end of D, in force on D (period covers D, not terminated)."""
    return _with_contract(ctx, "signed")


def family_signed_on(ctx: Context):
    return _with_contract(ctx, "family")


@cache
def active_population(name: str | None) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        if name is None:
            return archive_open(ctx.as_of)
        return and_(archive_open(ctx.as_of), population(name, ctx))

    return clause


def key_population(ctx: Context):
    return and_(archive_open(ctx.as_of), or_(*(population(p, ctx) for p in KEY_POPULATIONS)))


def _ended_in_window(ctx: Context):
    """A period that ended in the year before D (on D − 1 year … D − 1 day), not terminated."""
    from app.contracts.models import Contract

    return and_(Contract.ends_on >= years_before(ctx.as_of, 1), Contract.ends_on < ctx.as_of,
                Contract.terminated_on.is_(None))


def renewal_base(ctx: Context):
    return and_(archive_open(ctx.as_of), _with_contract(ctx, "ended"))


def renewed(ctx: Context):
    """A later contract (by start) than the latest period that ended in the window, signed by D."""
    return _with_contract(ctx, "renewed")


# surveys ----------------------------------------------------------------------------------------

def _responses(ctx: Context, kind: str):
    """This year's responses of ``kind`` by the end of D, ranked per resident (latest first)."""
    def build():
        from app.surveys.models import Survey, SurveyResponse
        from app.surveys.services import positive_respondent

        resp = SurveyResponse
        positive = case((positive_respondent(resp.scored_count, resp.positive_count,
                                             Survey.positive_threshold_permille), 1), else_=0)
        return (select(resp.resident_id, positive.label("positive"),
                       func.row_number().over(partition_by=resp.resident_id,
                                              order_by=(resp.submitted_at.desc(), resp.id.desc())).label("rn"))
                .join(Survey, Survey.id == resp.survey_id)
                .where(Survey.status == "published", Survey.kind == kind, Survey.opens_on >= ctx.since,
                       Survey.opens_on <= ctx.as_of, resp.submitted_at < ctx.cutoff)
                .cte(f"{kind}_responses_{ctx.tag}"))

    return ctx.memo(f"{kind}_responses_{ctx.tag}", build)


@cache
def respondent(kind: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        responses = _responses(ctx, kind)
        return ctx.member_of(f"{kind}_respondent:{ctx.year}:{ctx.tag}", responses, responses.c.rn == 1)

    return clause


@cache
def positive_respondent(kind: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        responses = _responses(ctx, kind)
        return ctx.member_of(f"{kind}_positive:{ctx.year}:{ctx.tag}", responses,
                             and_(responses.c.rn == 1, responses.c.positive == 1))

    return clause


# --- the definitions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Definition:
    key: str
    label: str  # the Chinese name (DOMAIN.md §7, seed 002)
    name: str  # English, for charts and readers without Chinese
    group: str  # archive | elderly | chronic | signing | survey
    base: Callable[[Context], Any]
    numerator: Callable[[Context], Any] | None  # None: every base resident counts
    target: float | None  # default target rate (DOMAIN.md §5, §7; seed 002)
    denominator: str = "base"  # base | service_population | target_count
    # "rate": the targets table's rate for the institution and year, else ``target``;
    # "last_year_plus": last year's rate (the same indicator at D − 1 year) + ``target_gain``.
    target_rule: str = "rate"
    target_gain: float = 0.0
    text: dict = field(default_factory=dict)  # numerator / denominator / window / target, for the docs
    csv_column: str | None = None  # the column of seed 002's table holding its target count

    @property
    def lists_missing(self) -> bool:
        """Whether "base residents not in the numerator" is a meaningful list."""
        return self.numerator is not None

    def numerator_clause(self, ctx: Context):
        base = self.base(ctx)
        return base if self.numerator is None else and_(base, self.numerator(ctx))

    def missing_clause(self, ctx: Context):
        """Base residents not counted in the numerator (a NULL numerator counts as not counted, as in
        the sums), or None when every base resident counts."""
        if self.numerator is None:
            return None
        return and_(self.base(ctx), case((self.numerator(ctx), 1), else_=0) == 0)


# One function object per shared base, so a count evaluates it once per resident.
_archive = active_population(None)
elderly = active_population("elderly")

_OPEN = "archive open on D (status active, or moved away / deceased after D)"

DEFINITIONS: tuple[Definition, ...] = (
    Definition("ehr", "电子健康档案建档率", "E-health-archive rate", "archive", _archive, None, 0.90,
               denominator="service_population", csv_column="ehr_target_90pct",
               text={"numerator": f"residents with an archive ({_OPEN})",
                     "denominator": "service population (辖区服务人口数): the top-most declared figure in the subtree",
                     "window": "D"}),
    Definition("std_ehr_coverage", "规范化电子健康档案覆盖率", "Standardised-archive coverage", "archive", _archive,
               standardised_archive, 0.64, denominator="service_population",
               csv_column="std_ehr_coverage_target_64pct",
               text={"numerator": "open archives that are standardised: basic sheet complete (phone, address, "
                                  "ethnicity, marital status, education, occupation, blood type, a payment "
                                  "method) and a health check on file (app.archive.metrics.standardised_clause)",
                     "denominator": "service population, as for 建档率", "window": "D"}),
    Definition("ehr_dynamic_use", "健康档案动态使用率", "Archive dynamic-usage rate", "archive", _archive, dynamic_use,
               0.60, csv_column="ehr_dynamic_use_target_60pct",
               text={"numerator": "open archives with a service in the window: a health check, another medical "
                                  "service record, a follow-up visit or a contract delivery "
                                  "(app.archive.metrics.ACTIVITY_SOURCES)",
                     "denominator": "open archives", "window": "D minus one year … D"}),
    Definition("elderly_health_management", "老年人规范健康管理服务率", "Elderly health-management rate",
               "elderly", elderly, health_check_in_year, 0.64, csv_column="elderly_std_mgmt_target_64pct",
               text={"numerator": "of those, residents with a health check (健康体检表) this year",
                     "denominator": "residents 65 or older on D with an open archive", "window": "1 Jan … D"}),
    Definition("elderly_tcm", "老年人中医药健康管理率", "Elderly TCM health-management rate", "elderly", elderly,
               tcm_in_year, 0.74, csv_column="elderly_tcm_target_74pct",
               text={"numerator": "of those, residents with a TCM service record (kind tcm: 体质辨识 and guidance) "
                                  "this year",
                     "denominator": "residents 65 or older on D with an open archive", "window": "1 Jan … D"}),
    Definition("hypertension_managed", "高血压患者管理人数", "Hypertension patients managed", "chronic",
               managed("hypertension"), None, 1.0, denominator="target_count", csv_column="htn_target_count",
               text={"numerator": "managed hypertension patients: an active diagnosis recorded on or before D, "
                                  "archive open on D",
                     "denominator": "the task target count (应管人数) of the institution's targets for the year "
                                    "(summed over the institutions of a subtree)",
                     "window": "D", "target": "100 % of the target count"}),
    Definition("hypertension_standardised_management", "高血压患者基层规范管理服务率",
               "Hypertension standardised-management rate", "chronic", managed("hypertension"),
               standardised_management("hypertension"), 0.64, csv_column="htn_std_mgmt_target_64pct",
               text={"numerator": "of those, patients with ≥ 4 face-to-face (clinic or home) hypertension "
                                  "follow-ups this year",
                     "denominator": "managed hypertension patients on D", "window": "1 Jan … D"}),
    Definition("hypertension_bp_control", "高血压患者血压控制率", "Blood-pressure control rate", "chronic",
               managed("hypertension"), controlled("hypertension"), 0.45,
               text={"numerator": "of those, patients whose latest face-to-face hypertension follow-up this year "
                                  "has SBP < 140 and DBP < 90 mmHg",
                     "denominator": "managed hypertension patients on D", "window": "1 Jan … D"}),
    Definition("t2dm_managed", "2型糖尿病患者管理人数", "Type-2 diabetes patients managed", "chronic",
               managed("t2dm"), None, 1.0, denominator="target_count", csv_column="t2dm_target_count",
               text={"numerator": "managed T2DM patients: an active diagnosis recorded on or before D, "
                                  "archive open on D",
                     "denominator": "the task target count (应管人数), as for hypertension",
                     "window": "D", "target": "100 % of the target count"}),
    Definition("t2dm_standardised_management", "2型糖尿病患者基层规范管理服务率",
               "Type-2 diabetes standardised-management rate", "chronic", managed("t2dm"),
               standardised_management("t2dm"), 0.64, csv_column="t2dm_std_mgmt_target_64pct",
               text={"numerator": "of those, patients with ≥ 4 face-to-face (clinic or home) T2DM follow-ups "
                                  "this year",
                     "denominator": "managed T2DM patients on D", "window": "1 Jan … D"}),
    Definition("t2dm_glucose_control", "2型糖尿病患者血糖达标率", "Blood-glucose control rate", "chronic",
               managed("t2dm"), controlled("t2dm"), 0.35,
               text={"numerator": "of those, patients whose latest face-to-face T2DM follow-up this year has a "
                                  "fasting glucose < 7.0 mmol/L",
                     "denominator": "managed T2DM patients on D", "window": "1 Jan … D"}),
    Definition("signing_rate", "签约率", "Signing rate", "signing", active_population(None), signed_on, None,
               target_rule="last_year_plus", target_gain=0.03,
               text={"numerator": "of those, residents signed on D: a contract signed by the end of D whose "
                                  "period covers D and that was not terminated on or before D",
                     "denominator": "residents with an archive open on D", "window": "D",
                     "target": "last year's rate (the same indicator on D minus one year) + 3 percentage "
                               "points, at most 100 %"}),
    *(Definition(f"signing_rate_{population}", label, f"Signing rate: {population.replace('_', ' ')}", "signing",
                 active_population(population), signed_on, target,
                 text={"numerator": "of those, residents signed on D",
                       "denominator": f"residents of the population {population} on D "
                                      "(app.residents.populations) with an archive open on D",
                       "window": "D"})
      for population, label, target in (
          ("elderly", "老年人签约率", 0.88), ("hypertension", "高血压患者签约率", 0.78),
          ("t2dm", "2型糖尿病患者签约率", 0.78), ("children_0_6", "0-6岁儿童签约率", 0.78),
          ("pregnant", "孕产妇签约率", 0.78), ("disabled", "持证残疾人签约率", 0.70),
          ("poverty_alleviated", "脱贫人口签约率", 1.00), ("special_family", "计生特殊家庭签约率", 1.00))),
    Definition("family_signing_rate", "重点人群以家庭为单位签约率", "Family-unit signing rate (key populations)",
               "signing", key_population, family_signed_on, 0.20,
               text={"numerator": "of those, residents signed on D under a family contract (以家庭为单位)",
                     "denominator": "residents of any key population on D (elderly, hypertension, T2DM, "
                                    "children 0–6, pregnant, disabled, poverty-alleviated, special family) "
                                    "with an archive open on D",
                     "window": "D"}),
    Definition("renewal_rate", "续约率", "Renewal rate", "signing", renewal_base, renewed, 0.80,
               text={"numerator": "of those, residents who signed a later contract (a later start) by D",
                     "denominator": "residents (archive open on D) whose signed contract period ended in the "
                                    "year before D (D minus one year … D − 1 day), not terminated",
                     "window": "D minus one year … D"}),
    Definition("satisfaction", "满意度", "Satisfaction rate", "survey", respondent("satisfaction"),
               positive_respondent("satisfaction"), 0.90,
               text={"numerator": "of those, residents whose latest such response is satisfied by the survey's "
                                  "own rule (app.surveys.services.positive_respondent: the positive share of "
                                  "scored answers ≥ the survey's threshold)",
                     "denominator": "residents who responded to a published satisfaction survey opened this "
                                    "year, by the end of D (each resident once)",
                     "window": "surveys opened 1 Jan … D, responses by the end of D"}),
    Definition("awareness", "知晓率", "Awareness rate", "survey", respondent("awareness"),
               positive_respondent("awareness"), 0.90,
               text={"numerator": "of those, residents whose latest such response is aware by the survey's own "
                                  "rule",
                     "denominator": "residents who responded to a published awareness survey opened this year, "
                                    "by the end of D (each resident once)",
                     "window": "surveys opened 1 Jan … D, responses by the end of D"}),
)
BY_KEY: dict[str, Definition] = {d.key: d for d in DEFINITIONS}
KEYS: tuple[str, ...] = tuple(BY_KEY)

# Seed 002 附件2 indicators the product has no data for yet (maternal and child health): their
# targets are stored so they are there when the data is.
TARGET_ONLY: dict[str, tuple[str, str]] = {
    # key: (label, CSV column)
    "maternal_systematic_management": ("孕产妇系统管理率", "maternal_sys_mgmt_target_90pct"),
    "postpartum_visit": ("产后访视率", "postpartum_visit_target_90pct"),
    "newborn_visit": ("新生儿访视率", "newborn_visit_target_90pct"),
    "under7_health_management": ("7岁以下儿童健康管理率", "under7_mgmt_target_90pct"),
    "child_eye_check": ("儿童眼保健和视力检查覆盖率", "child_eye_check_target_90pct"),
    "under3_systematic_management": ("3岁以下儿童系统管理率", "under3_sys_mgmt_target_80pct"),
    "child_tcm": ("儿童中医药健康管理率", "child_tcm_target_84pct"),
}
TARGET_KEYS: tuple[str, ...] = KEYS + tuple(TARGET_ONLY)
GROUPS = ("archive", "elderly", "chronic", "signing", "survey")


def describe(definition: Definition) -> dict:
    """The definition in words (API, docs, the export's definitions sheet)."""
    text = definition.text
    if "target" in text:
        target = text["target"]
    elif definition.target is not None:
        target = f"{definition.target:.0%}"
    else:
        target = "none"
    if definition.target_rule == "rate":
        target += " — a rate in the targets table (institution, year) replaces it"
    else:
        target += " — unless the targets table gives a rate for the institution and year"
    parts = ["numerator", "missing"] if definition.lists_missing else ["numerator"]
    return {"key": definition.key, "label": definition.label, "name": definition.name, "group": definition.group,
            "numerator": text["numerator"], "denominator": text["denominator"],
            "denominator_kind": definition.denominator, "window": text["window"], "target": target,
            "default_target": definition.target, "drilldown_parts": parts}


def markdown_table() -> str:
    """The definitions as the Markdown table of docs/indicators.md (a test keeps them equal)."""
    lines = ["| key | indicator | numerator | denominator | window | target | drill-down |",
             "|---|---|---|---|---|---|---|"]
    for definition in DEFINITIONS:
        d = describe(definition)
        cells = [f"`{d['key']}`", f"{d['label']} ({d['name']})", d["numerator"], d["denominator"], d["window"],
                 d["target"], " / ".join(d["drilldown_parts"])]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def label_of(key: str) -> str:
    if key in BY_KEY:
        return BY_KEY[key].label
    return TARGET_ONLY[key][0]


def select_definitions(keys: list[str] | None) -> list[Definition]:
    if not keys:
        return list(DEFINITIONS)
    return [BY_KEY[k] for k in KEYS if k in set(keys)]


__all__ = ["Context", "Definition", "DEFINITIONS", "BY_KEY", "KEYS", "TARGET_KEYS", "TARGET_ONLY", "evaluation",
           "archive_open", "managed", "signed_on", "label_of", "select_definitions"]
