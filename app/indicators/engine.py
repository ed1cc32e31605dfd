"""How an indicator is evaluated (docs/domain.md §7): the evaluation context, the definition's shape,
and the one set-based count.

An indicator is a :class:`Definition`: a **base** and a **numerator**, each a function of an
evaluation :class:`Context` (a year and an "as of" day D in it) returning a SQL boolean clause over
``Resident``. Counting residents where ``base`` holds, and where ``base AND numerator`` holds, gives
the indicator's two numbers; listing the same residents gives the drill-down, so the lists always
agree with the counts. The denominator is

- ``"base"``: the base residents (most indicators);
- ``"service_population"``: the institutions' declared service population (建档率, 规范化档案覆盖率),
  counted by :func:`app.indicators.scope.subtree_population` (the top-most declared figure in a
  subtree, so nothing is counted twice) — the base is then the archives, the numerator's pool;
- ``"target_count"``: the task target count (应管人数) from the targets table (患者管理人数).

Memberships of other tables' sets go through :meth:`Context.member` / :meth:`Context.member_of`:
plain ``Resident.id IN (subquery)`` for a WHERE (drill-down), and bit tests on the per-resident
:class:`FactSet` while a count is built; results shared by several indicators (a year's follow-up
statistics, the contracts folded per resident, the ranked survey responses) are CTEs memoised on the
context, so one statement computes them once.

**Counting** (:func:`count`): ONE query over ``residents``, grouped by the resident's institution (or
responsible team). Every indicator contributes ``SUM(base)`` and ``SUM(base × numerator)`` over 0/1
flags computed once per resident in an inner select; memberships come from one LEFT JOIN to the
:class:`FactSet`. The groups are then folded in Python into *buckets* (:class:`Grouping`). Several
evaluation days (the month-by-month trend, last year's rate for the signing target) are more columns
of the same query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    true,
    union_all,
)

from app.common.time import local_midnight_utc, today, years_before
from app.errors import Invalid
from app.extensions import db
from app.indicators.tuning import tune_session
from app.residents.models import Resident

# --- the evaluation context ------------------------------------------------------------------


@dataclass
class Context:
    """When an indicator is evaluated: ``year`` and the day ``as_of`` (in that year).

    ``cache`` memoises the CTEs of one statement (each is named after its day, so several
    contexts can share one query)."""

    year: int
    as_of: date
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    facts: FactSet | None = field(default=None, repr=False, compare=False)

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

    def last_year(self) -> Context:
        """The same day a year earlier (for "last year's rate")."""
        day = years_before(self.as_of, 1)
        return Context(day.year, day, self.cache, self.facts)

    def member(self, key: str, ids):
        """ "The resident is in the set ``ids``" (a select of resident ids, duplicates allowed).

        Plain: ``Resident.id IN (ids)`` (drill-down, any single clause). While a count is built
        (``facts`` set), a bit test on the residents' joined facts (see :class:`FactSet`)."""
        if self.facts is not None:
            return self.facts.test(key, ids)
        return Resident.id.in_(ids)

    def member_of(self, key: str, cte, condition):
        """ "The resident has a row of ``cte`` (a CTE with a ``resident_id`` column) where ``condition``
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

    def build(self, name: str = "facts", restrict=None):
        """``restrict``: a function of a resident-id column giving a clause; each set is cut to it
        (a count over a few residents then reads only their rows)."""
        columns = max(1, -(-len(self.sets) // self.BITS))
        parts, shared = [], {}
        for index, entry in enumerate(self.sets.values()):
            column, bit = divmod(index, self.BITS)
            if entry[0] == "cte":
                shared.setdefault(id(entry[1]), (entry[1], []))[1].append((column, bit, entry[2]))
                continue
            ids = entry[1].subquery()
            values = [literal_column(str(1 << bit) if c == column else "0").label(f"b{c}") for c in range(columns)]
            part = select(ids.c[0].label("resident_id"), *values).distinct()
            parts.append(part if restrict is None else part.where(restrict(ids.c[0])))
        for cte, members in shared.values():
            values = []
            for c in range(columns):
                terms = [
                    func.max(case((condition, 1), else_=0)) * literal_column(str(1 << bit))
                    for column, bit, condition in members
                    if column == c
                ]
                values.append((sum(terms[1:], terms[0]) if terms else literal_column("0")).label(f"b{c}"))
            part = select(cte.c.resident_id.label("resident_id"), *values).group_by(cte.c.resident_id)
            parts.append(part if restrict is None else part.where(restrict(cte.c.resident_id)))
        if not parts:
            return None
        every = union_all(*parts).subquery(f"{name}_sets")
        # SUM of BIGINT is NUMERIC on PostgreSQL: back to BIGINT for the bit tests
        self.table = (
            select(
                every.c.resident_id,
                *(cast(func.sum(every.c[f"b{c}"]), BigInteger).label(f"b{c}") for c in range(columns)),
            )
            .group_by(every.c.resident_id)
            .subquery(name)
        )
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


def requested(year: int | None, as_of: date | None) -> Context:
    """The context of a request's ``year`` / ``as_of`` (422 when the day is not in the year)."""
    if as_of is not None and year is not None and as_of.year != year:
        raise Invalid("as_of", "must be a day of the requested year")
    return evaluation(year, as_of)


# --- the definition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    key: str
    label: str  # the Chinese name (docs/domain.md §7)
    name: str  # English, for charts and readers without Chinese
    group: str  # archive | elderly | maternal | children | chronic | signing | survey
    base: Callable[[Context], Any]
    numerator: Callable[[Context], Any] | None  # None: every base resident counts
    target: float | None  # default target rate (docs/domain.md §5, §7)
    denominator: str = "base"  # base | service_population | target_count
    # "rate": the targets table's rate for the institution and year, else ``target``;
    # "last_year_plus": last year's rate (the same indicator at D − 1 year) + ``target_gain``.
    target_rule: str = "rate"
    target_gain: float = 0.0
    text: dict = field(default_factory=dict)  # numerator / denominator / window / target, for the docs
    csv_column: str | None = None  # the column of the district's targets table holding its target count

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


# --- counting -----------------------------------------------------------------------------------


def _flag(clause):
    return case((clause, 1), else_=0)


@dataclass
class Grouping:
    """Where each resident is counted: institution buckets (``mapping``: institution id → bucket),
    teams (``team_ids``) or every (institution, team) pair (``pairs``, for the snapshots). SQL groups
    by the resident's institution (or team); buckets are folded here."""

    mapping: list[tuple[int, int]] | None = None  # (institution id, bucket id)
    team_ids: list[int] | None = None
    everyone: bool = False  # the mapping covers every institution (the district): no filter
    pairs: bool = False

    def keys_and_filter(self):
        if self.pairs:
            where = (
                None
                if self.everyone or self.mapping is None
                else Resident.institution_id.in_([i for i, _ in self.mapping])
            )
            return [Resident.institution_id, Resident.team_id], where
        if self.team_ids is not None:
            where = Resident.team_id.in_(self.team_ids)
            if self.mapping is not None and not self.everyone:  # and within the institution's subtree
                where = and_(where, Resident.institution_id.in_([i for i, _ in self.mapping]))
            return [Resident.team_id], where
        if self.everyone:
            return [Resident.institution_id], None
        return [Resident.institution_id], Resident.institution_id.in_([i for i, _ in self.mapping])

    def bucket_of(self, key: tuple):
        if self.pairs:
            return key
        if self.team_ids is not None:
            return key[0]
        return dict(self.mapping).get(key[0])

    def bucket_of_pair(self, institution_id: int, team_id: int | None):
        """The bucket of a resident of ``institution_id`` and ``team_id`` (None: not counted here),
        as the grouped count would place it."""
        if self.pairs:
            return institution_id, team_id
        if self.team_ids is not None:
            within = self.everyone or self.mapping is None or institution_id in self._buckets
            return team_id if within and team_id in self.team_ids else None
        return self._buckets.get(institution_id)

    @cached_property
    def _buckets(self) -> dict:
        return dict(self.mapping or ())


def count(grouping: Grouping, specs: list[tuple[Context, Definition]]) -> dict:
    """``{bucket: {spec index: (base, numerator)}}`` for every spec, in ONE query.

    Each distinct clause (a definition's base or numerator function at a context) becomes one 0/1
    column of an inner per-resident select, evaluated once per resident (``OFFSET 0`` keeps
    PostgreSQL from inlining it and re-evaluating shared clauses); the outer select sums
    ``base`` and ``base × numerator`` per institution (or team), folded into buckets here."""
    statement, pairs = count_statement(grouping, specs)
    if statement is None:
        return {}
    tune_session()
    found: dict = {}
    width = len(grouping.keys_and_filter()[0])
    for row in db.session.execute(statement):
        bucket = grouping.bucket_of(tuple(row[:width]))
        if bucket is None:
            continue
        into = found.setdefault(bucket, {})
        position = width
        for index, _, numerator in pairs:
            base_count = int(row[position])
            if numerator is not None:
                value = (base_count, int(row[position + 1]))
                position += 2
            else:
                value = (base_count, base_count)
                position += 1
            into[index] = add(into.get(index), value)
    return found


def count_statement(grouping: Grouping, specs: list[tuple[Context, Definition]]):
    """The statement of :func:`count` and its (spec index, base column, numerator column) layout."""
    keys, where = grouping.keys_and_filter()
    inner, pairs = _flags(keys, where, specs)
    if inner is None:
        return None, []
    columns = []
    for _, base, numerator in pairs:
        columns.append(func.coalesce(func.sum(inner.c[base]), 0))
        if numerator is not None:
            columns.append(func.coalesce(func.sum(inner.c[base] * inner.c[numerator]), 0))
    group_columns = [inner.c[f"g{i}"] for i in range(len(keys))]
    return select(*group_columns, *columns).group_by(*group_columns), pairs


BITS_PER_WORD = 62  # specs of one per-resident word (BIGINT, sign bit left alone)


def resident_bits_statement(specs: list[tuple[Context, Definition]], restrict=None):
    """Per resident: ``id, institution_id, team_id, base_bits, num_bits`` — bit k of ``base_bits``
    is "in spec k's base", of ``num_bits`` "in its base and its numerator" (the counts of
    :func:`count` are the sums of these bits). ``restrict`` (a function of a resident-id column
    giving a clause) cuts the residents and every set to a few residents. Residents in no base are
    left out."""
    if len(specs) > BITS_PER_WORD:
        raise ValueError(f"{len(specs)} specs do not fit one word of {BITS_PER_WORD} bits")
    keys = [Resident.id, Resident.institution_id, Resident.team_id]
    inner, pairs = _flags(keys, None if restrict is None else restrict(Resident.id), specs, restrict)
    base_bits = num_bits = literal_column("0")
    for index, base, numerator in pairs:
        weight = literal_column(str(1 << index))
        base_bits = base_bits + inner.c[base] * weight
        num_bits = num_bits + inner.c[base] * (inner.c[numerator] if numerator else 1) * weight
    statement = select(
        inner.c.g0.label("resident_id"),
        inner.c.g1.label("institution_id"),
        inner.c.g2.label("team_id"),
        cast(base_bits, BigInteger).label("base_bits"),
        cast(num_bits, BigInteger).label("num_bits"),
    )
    return statement.where(base_bits > 0)


def _flags(keys, where, specs: list[tuple[Context, Definition]], restrict=None):
    """The inner per-resident select of a count: the group ``keys`` (``g0``, ``g1`` …) and one 0/1
    column per distinct clause, and the (spec index, base column, numerator column) layout.

    Set memberships are read from one joined :class:`FactSet`: the
    clauses are built twice, once to collect the sets, once against the built facts."""
    facts = FactSet()
    contexts = list({id(ctx): ctx for ctx, _ in specs}.values())
    for ctx in contexts:
        ctx.facts = facts
    try:
        for ctx, definition in specs:  # first pass: which sets
            definition.base(ctx)
            if definition.numerator is not None:
                definition.numerator(ctx)
        table = facts.build(restrict=restrict)
        flags: dict = {}

        def flag(ctx: Context, fn) -> str:
            key = (id(ctx), fn)
            if key not in flags:
                flags[key] = (f"f{len(flags)}", fn(ctx))
            return flags[key][0]

        pairs = []
        for index, (ctx, definition) in enumerate(specs):
            base = flag(ctx, definition.base)
            numerator = flag(ctx, definition.numerator) if definition.numerator is not None else None
            pairs.append((index, base, numerator))
    finally:
        for ctx in contexts:
            ctx.facts = None
    if not pairs:
        return None, []
    source = Resident.__table__
    if table is not None:
        source = source.outerjoin(table, table.c.resident_id == Resident.id)
    groups = [key.label(f"g{i}") for i, key in enumerate(keys)]
    inner = select(*groups, *(_flag(clause).label(name) for name, clause in flags.values())).select_from(source)
    if where is not None:
        inner = inner.where(where)
    return inner.offset(0).subquery("flags"), pairs


def add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    a, b = a or (0, 0), b or (0, 0)
    return a[0] + b[0], a[1] + b[1]
