"""Computing the indicators: one set-based query per request, rows with targets, drill-down lists.

**Counting** (:func:`count`): ONE query over ``residents``, grouped by the resident's institution (or
responsible team). Every indicator contributes ``SUM(base)`` and ``SUM(base × numerator)`` over 0/1
flags computed once per resident in an inner select; memberships of other tables' sets (a health
check this year, signed on D …) come from one LEFT JOIN to the per-resident bit masks of a
:class:`~app.indicators.definitions.FactSet`. The groups are then folded in Python into *buckets* —
the requested institution itself for residents registered directly at it, else the child whose
subtree holds their institution (a mapping built from the institutions table). Every indicator is a
ratio of counts, so a subtree's total is the sum of its buckets. Several evaluation days (the
month-by-month trend, last year's rate for the signing target) are more columns of the same query.

**Drill-down** (:func:`residents_page`): the same clauses (plain ``IN (subquery)`` form) in a WHERE,
in the caller's scope, a page at a time; so the lists agree with the counts by construction.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select

from app.access.actors import Actor
from app.access.scope import get_institution, get_team, resident_clause
from app.audit import services as audit
from app.common.ids import mask_id_number, mask_phone, vault
from app.common.pagination import paginate
from app.common.time import age_on
from app.errors import Invalid, NotFound
from app.extensions import db
from app.indicators.definitions import BY_KEY, Context, Definition, FactSet, evaluation, select_definitions
from app.indicators.targets import TargetBook
from app.orgs.models import Institution, Team
from app.residents.models import Resident

TOTAL, DIRECT, CHILD, TEAM = "total", "direct", "child", "team"


def rate(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def met(value: float | None, target: float | None) -> bool | None:
    if value is None or target is None:
        return None
    return value >= target - 1e-9


def _flag(clause):
    return case((clause, 1), else_=0)


def _sum(clause):
    return func.coalesce(func.sum(_flag(clause)), 0)


# --- counting -----------------------------------------------------------------------------------

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
            where = None if self.everyone or self.mapping is None else \
                Resident.institution_id.in_([i for i, _ in self.mapping])
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


def count(grouping: Grouping, specs: list[tuple[Context, Definition]]) -> dict:
    """``{bucket: {spec index: (base, numerator)}}`` for every spec, in ONE query.

    Each distinct clause (a definition's base or numerator function at a context) becomes one 0/1
    column of an inner per-resident select, evaluated once per resident (``OFFSET 0`` keeps
    PostgreSQL from inlining it and re-evaluating shared clauses); the outer select sums
    ``base`` and ``base × numerator`` per institution (or team), folded into buckets here."""
    statement, pairs = count_statement(grouping, specs)
    if statement is None:
        return {}
    _tune_session()
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
            into[index] = _add(into.get(index), value)
    return found


def count_statement(grouping: Grouping, specs: list[tuple[Context, Definition]]):
    """The statement of :func:`count` and its (spec index, base column, numerator column) layout.

    Set memberships are read from one joined :class:`~app.indicators.definitions.FactSet`: the
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
        table = facts.build()
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
    keys, where = grouping.keys_and_filter()
    source = Resident.__table__
    if table is not None:
        source = source.outerjoin(table, table.c.resident_id == Resident.id)
    groups = [key.label(f"g{i}") for i, key in enumerate(keys)]
    inner = select(*groups, *(_flag(clause).label(name) for name, clause in flags.values())).select_from(source)
    if where is not None:
        inner = inner.where(where)
    inner = inner.offset(0).subquery("flags")
    columns = []
    for _, base, numerator in pairs:
        columns.append(func.coalesce(func.sum(inner.c[base]), 0))
        if numerator is not None:
            columns.append(func.coalesce(func.sum(inner.c[base] * inner.c[numerator]), 0))
    group_columns = [inner.c[f"g{i}"] for i in range(len(keys))]
    return select(*group_columns, *columns).group_by(*group_columns), pairs


def _tune_session() -> None:
    """PostgreSQL, for this transaction only: room for the hashed subplans of a district-wide count,
    and no JIT (compiling the many CASE expressions costs seconds and saves less than it costs)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.set_config("work_mem", "64MB", True), func.set_config("jit", "off", True)))


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    a, b = a or (0, 0), b or (0, 0)
    return a[0] + b[0], a[1] + b[1]


# --- scope ------------------------------------------------------------------------------------

@dataclass
class Subtree:
    root: Institution
    institutions: list  # rows: id, code, name, path, parent_id, service_population
    children: list

    @property
    def ids(self) -> list[int]:
        return [i.id for i in self.institutions]


def load_subtree(root: Institution) -> Subtree:
    rows = db.session.execute(
        select(Institution.id, Institution.code, Institution.name, Institution.path, Institution.parent_id,
               Institution.kind, Institution.service_population)
        .where(Institution.path.startswith(root.path)).order_by(Institution.code)).all()
    children = [r for r in rows if r.parent_id == root.id]
    return Subtree(root, rows, children)


def bucket_mapping(subtree: Subtree, *, single: bool = False) -> list[tuple[int, int]]:
    """institution id → the root (its own residents, or everything when ``single``) or the child holding it."""
    pairs = []
    for row in subtree.institutions:
        bucket = subtree.root.id
        if not single and row.id != subtree.root.id:
            bucket = next(c.id for c in subtree.children if row.path.startswith(c.path))
        pairs.append((row.id, bucket))
    return pairs


def resolve_scope(actor: Actor, institution_id: int | None, team_id: int | None):
    """The institution (default: the caller's) and optional team, both in the caller's scope (else 404)."""
    team = get_team(actor, team_id) if team_id is not None else None
    if institution_id is None:
        institution_id = team.institution_id if team is not None else actor.institution_id
    institution = get_institution(actor, institution_id)
    if team is not None and not team.institution.path.startswith(institution.path):
        raise NotFound("team not found")
    return institution, team


def _context(year: int | None, as_of: date | None) -> Context:
    if as_of is not None and year is not None and as_of.year != year:
        raise Invalid("as_of", "must be a day of the requested year")
    return evaluation(year, as_of)


# --- rows ---------------------------------------------------------------------------------------

class Plan:
    """The specs of one count: the definitions at ``ctx`` (and at other days), plus last year's
    evaluation of those whose target is last year's rate."""

    def __init__(self, definitions: list[Definition], contexts: list[Context], stored: dict | None = None):
        self.definitions = definitions
        self.contexts = contexts
        self.ctx = contexts[-1]
        self.last = self.ctx.last_year()
        self.stored = stored or {}  # (day, key) → (base, numerator) read from the snapshots
        self.specs = [(c, d) for c in contexts for d in definitions
                      if c is self.ctx or (c.as_of, d.key) not in self.stored]
        self.specs += [(self.last, d) for d in definitions if d.target_rule == "last_year_plus"]
        self._index = {(id(c), d.key): i for i, (c, d) in enumerate(self.specs)}

    def counts(self, found: dict, definition: Definition, ctx: Context | None = None) -> tuple[int, int]:
        ctx = ctx or self.ctx
        index = self._index.get((id(ctx), definition.key))
        if index is None:
            return self.stored[(ctx.as_of, definition.key)]
        return found.get(index, (0, 0))

    def last_year(self, found: dict, definition: Definition) -> tuple[int, int] | None:
        index = self._index.get((id(self.last), definition.key))
        return None if index is None else found.get(index, (0, 0))


def _target(definition: Definition, stored_rate: float | None, last_year: tuple[int, int] | None):
    if stored_rate is not None:
        return stored_rate
    if definition.target_rule == "last_year_plus":
        if last_year is None:
            return None
        last = rate(last_year[1], last_year[0])
        return None if last is None else round(min(1.0, last + definition.target_gain), 4)
    return definition.target


def make_row(definition: Definition, counts: tuple[int, int], *, last_year=None, service_population=None,
             target_count=None, stored_rate=None, **identity) -> dict:
    base, numerator = counts
    if definition.denominator == "service_population":
        denominator = service_population
    elif definition.denominator == "target_count":
        denominator = target_count
    else:
        denominator = base
    value = rate(numerator, denominator)
    target = _target(definition, stored_rate, last_year)
    return {**identity, "indicator": definition.key, "label": definition.label, "group": definition.group,
            "numerator": numerator, "denominator": denominator, "rate": value, "target": target,
            "target_count": target_count, "met": met(value, target)}


def _rows_for(plan: Plan, found: dict, *, identity: dict, book: TargetBook | None, institution,
              service_population) -> list[dict]:
    rows = []
    for definition in plan.definitions:
        target_count = stored_rate = None
        if book is not None and institution is not None:
            target_count = book.count(institution, definition.key) if identity.get("scope") != DIRECT else None
            stored_rate = book.rate(institution.id, definition.key)
        rows.append(make_row(definition, plan.counts(found, definition), last_year=plan.last_year(found, definition),
                             target_count=target_count, stored_rate=stored_rate,
                             service_population=service_population, **identity))
    return rows


def _fold(found: dict, key) -> dict:
    """Regroup ``{(institution id, team id): counts}`` by ``key((institution id, team id))``."""
    out: dict = {}
    for pair, values in found.items():
        bucket = key(pair)
        if bucket is None:
            continue
        into = out.setdefault(bucket, {})
        for index, value in values.items():
            into[index] = _add(into.get(index), value)
    return out


def institution_rows(root: Institution, ctx: Context, definitions: list[Definition], teams: list | None = None
                     ) -> list[dict]:
    """Rows for the subtree total, the institution's own residents (when it has children and any) and
    each child's subtree — and, with ``teams``, each team (the same query). No authorisation here."""
    from app.archive.metrics import subtree_population

    subtree = load_subtree(root)
    plan = Plan(definitions, [ctx])
    mapping = bucket_mapping(subtree)
    by_team: dict = {}
    if teams:
        pairs = count(Grouping(mapping=mapping, pairs=True, everyone=root.parent_id is None), plan.specs)
        buckets = dict(mapping)
        found = _fold(pairs, lambda pair: buckets.get(pair[0]))
        by_team = _fold(pairs, lambda pair: pair[1])
    else:
        found = count(Grouping(mapping=mapping, everyone=root.parent_id is None), plan.specs)
    book = TargetBook(subtree.institutions, ctx.year)
    total = {i: (0, 0) for i in range(len(plan.specs))}
    for bucket in found.values():
        total = {i: _add(total[i], bucket.get(i)) for i in total}
    me = next(r for r in subtree.institutions if r.id == root.id)
    rows = _rows_for(plan, total, identity=_identity(me, TOTAL), book=book, institution=me,
                     service_population=subtree_population(me.path, subtree.institutions))
    direct = found.get(root.id)
    if subtree.children and direct and any(b for b, _ in direct.values()):
        rows += _rows_for(plan, direct, identity=_identity(me, DIRECT), book=book, institution=me,
                          service_population=None)
    for child in subtree.children:
        rows += _rows_for(plan, found.get(child.id, {}), identity=_identity(child, CHILD), book=book,
                          institution=child, service_population=subtree_population(child.path, subtree.institutions))
    if teams is not None:
        return rows[:len(definitions)] + _team_rows(plan, teams, by_team, book, root)
    return rows


def _identity(row, scope: str) -> dict:
    return {"institution_id": row.id, "institution_name": row.name, "team_id": None, "team_name": None,
            "scope": scope}


def team_rows(institution: Institution, teams: list, ctx: Context, definitions: list[Definition]) -> list[dict]:
    """Rows per team (residents whose responsible team it is); targets: the institution's rates."""
    plan = Plan(definitions, [ctx])
    found = count(_team_grouping(institution, teams), plan.specs) if teams else {}
    return _team_rows(plan, teams, found, TargetBook([institution], ctx.year), institution)


def _team_grouping(institution: Institution, teams: list) -> Grouping:
    """Teams' residents within the institution's subtree (as the drill-down lists them)."""
    subtree = load_subtree(institution)
    return Grouping(team_ids=[t.id for t in teams], mapping=bucket_mapping(subtree, single=True),
                    everyone=institution.parent_id is None)


def _team_rows(plan: Plan, teams: list, found: dict, book: TargetBook, institution) -> list[dict]:
    rows = []
    for team in teams:
        identity = {"institution_id": team.institution_id, "institution_name": team.institution.name,
                    "team_id": team.id, "team_name": team.name, "scope": TEAM}
        for row in _rows_for(plan, found.get(team.id, {}), identity=identity, book=None,
                             institution=None, service_population=None):
            stored = book.rate(institution.id, row["indicator"])
            if stored is not None:
                row["target"] = stored
                row["met"] = met(row["rate"], stored)
            rows.append(row)
    return rows


def report(actor: Actor, *, institution_id=None, team_id=None, year=None, as_of=None, indicator=None,
           by: str = "institution") -> dict:
    """GET /indicators: rows for the subtree total and each child (``by=institution``), per team
    (``by=team``, or one team with ``team_id``), or a month-by-month series (``by=month``)."""
    institution, team = resolve_scope(actor, institution_id, team_id)
    ctx = _context(year, as_of)
    definitions = select_definitions(indicator)
    head = {"institution_id": institution.id, "institution_name": institution.name,
            "team_id": team.id if team else None, "team_name": team.name if team else None,
            "year": ctx.year, "as_of": ctx.as_of}
    if by == "month":
        return {**head, "series": monthly_series(institution, team, ctx, definitions)}
    if team is not None:
        rows = team_rows(institution, [team], ctx, definitions)
    elif by == "team":
        teams = db.session.scalars(
            select(Team).join(Institution, Institution.id == Team.institution_id)
            .where(Institution.path.startswith(institution.path), Team.active.is_(True))
            .order_by(Institution.code, Team.id)).all()
        rows = institution_rows(institution, ctx, definitions, teams=list(teams))
    else:
        rows = institution_rows(institution, ctx, definitions)
    return {**head, "rows": rows}


def export_report(actor: Actor, **args) -> dict:
    """The report of the exports (institution rows, or one team's), with the service populations."""
    from app.archive.metrics import subtree_population

    body = report(actor, **args)
    institution = db.session.get(Institution, body["institution_id"])
    subtree = load_subtree(institution)
    body["service_populations"] = {
        row.id: subtree_population(row.path, subtree.institutions)
        for row in subtree.institutions if row.id == institution.id or row.parent_id == institution.id}
    return body


def list_targets(actor: Actor, institution_id: int | None, year: int) -> list[dict]:
    institution = get_institution(actor, institution_id or actor.institution_id)
    from app.indicators.targets import list_targets as rows_of

    return [present_target(row) for row in rows_of([institution.path], year)]


def present_target(row) -> dict:
    from app.indicators.definitions import label_of

    return {"institution_id": row.institution_id, "year": row.year, "indicator": row.indicator,
            "label": label_of(row.indicator), "target_rate": row.target_rate, "target_count": row.target_count,
            "source": row.source, "updated_at": row.updated_at}


# --- month by month -----------------------------------------------------------------------------

def month_ends(ctx: Context) -> list[date]:
    """The last day of each month of the year up to ``as_of`` (the last one is ``as_of`` itself)."""
    days = []
    for month in range(1, ctx.as_of.month + 1):
        end = date(ctx.year, month, calendar.monthrange(ctx.year, month)[1])
        days.append(min(end, ctx.as_of))
    return days


def monthly_series(institution: Institution, team, ctx: Context, definitions: list[Definition]) -> list[dict]:
    """Per indicator: ``{indicator, label, target, target_count, points: [{month, as_of, numerator,
    denominator, rate, met}]}``; the target is the year's (the row's at ``as_of``)."""
    from app.archive.metrics import subtree_population

    contexts = [Context(ctx.year, day, ctx.cache) for day in month_ends(ctx)[:-1]] + [ctx]
    closed = [c.as_of for c in contexts[:-1]]
    keys = [d.key for d in definitions]
    if team is not None:
        plan = Plan(definitions, contexts, snapshot_counts("team", [team.id], closed, keys))
        found = count(_team_grouping(institution, [team]), plan.specs).get(team.id, {})
        book, service_population = TargetBook([institution], ctx.year), None
    else:
        subtree = load_subtree(institution)
        plan = Plan(definitions, contexts, snapshot_counts("institution", subtree.ids, closed, keys))
        grouping = Grouping(mapping=bucket_mapping(subtree, single=True), everyone=institution.parent_id is None)
        found = count(grouping, plan.specs).get(institution.id, {})
        book = TargetBook(subtree.institutions, ctx.year)
        me = next(r for r in subtree.institutions if r.id == institution.id)
        service_population = subtree_population(me.path, subtree.institutions)
    series = []
    for definition in definitions:
        target_count = None if team is not None else book.count(institution, definition.key)
        stored_rate = book.rate(institution.id, definition.key)
        last_year = plan.last_year(found, definition)
        points, target = [], None
        for month, c in enumerate(contexts, start=1):
            row = make_row(definition, plan.counts(found, definition, c), last_year=last_year,
                           service_population=service_population, target_count=target_count,
                           stored_rate=stored_rate)
            points.append({"month": month, "as_of": c.as_of, "numerator": row["numerator"],
                           "denominator": row["denominator"], "rate": row["rate"], "met": row["met"]})
            target = row["target"]
        series.append({"indicator": definition.key, "label": definition.label, "name": definition.name,
                       "group": definition.group, "target": target, "target_count": target_count,
                       "points": points})
    return series


def snapshot_counts(scope: str, ids: list[int], days: list[date], keys: list[str]) -> dict:
    """``{(day, key): (base, numerator)}`` summed over ``ids`` from the stored month ends (what the
    nightly job wrote; a (day, indicator) it has not written is computed live instead)."""
    from app.indicators.models import IndicatorSnapshot as S

    if not days or not ids:
        return {}
    rows = db.session.execute(
        select(S.on, S.indicator, func.sum(S.base), func.sum(S.numerator))
        .where(S.scope == scope, S.on.in_(days), S.indicator.in_(keys)).group_by(S.on, S.indicator)
        .where(S.scope_id.in_(ids))).all()
    present = {(on, key) for on, key in db.session.execute(
        select(S.on, S.indicator).where(S.scope == scope, S.on.in_(days), S.indicator.in_(keys)).distinct())}
    found = {(on, key): (int(b), int(n)) for on, key, b, n in rows}
    return {point: found.get(point, (0, 0)) for point in present}


# --- drill-down -----------------------------------------------------------------------------------



def drilldown_statement(definition: Definition, ctx: Context, part: str):
    if part == "numerator":
        return definition.numerator_clause(ctx)
    if not definition.lists_missing:
        raise Invalid("part", f"{definition.key} counts every resident of its base: there is no 'missing' list "
                              "(its denominator is not a list of residents)")
    return definition.missing_clause(ctx)


def residents_page(actor: Actor, key: str, *, institution_id=None, team_id=None, year=None, as_of=None,
                   part: str = "numerator", page: int = 1, per_page: int = 20) -> dict:
    """The residents counted in an indicator's numerator (``part=numerator``) or in its base but not
    its numerator (``part=missing``: whom to act on), for the institution's subtree (or a team), in
    the caller's scope; each read is written to those residents' access logs (purpose statistics)."""
    definition = BY_KEY.get(key)
    if definition is None:
        raise NotFound("indicator not found")
    institution, team = resolve_scope(actor, institution_id, team_id)
    ctx = _context(year, as_of)
    clause = drilldown_statement(definition, ctx, part)
    stmt = select(Resident).where(clause, resident_clause(actor))
    if team is not None:
        stmt = stmt.where(Resident.team_id == team.id)
    if institution.parent_id is not None:
        stmt = stmt.where(Resident.institution_id.in_(
            select(Institution.id).where(Institution.path.startswith(institution.path))))
    _tune_session()
    residents, total = paginate(stmt.order_by(Resident.id), page, per_page)
    audit.record_many(actor, [r.id for r in residents], action="read", section="indicators", purpose="statistics")
    keys = vault()
    items = [{"id": r.id, "archive_no": r.archive_no, "name": r.name, "sex": r.sex,
              "age": age_on(r.birth_on, ctx.as_of), "id_number": mask_id_number(keys.decrypt(r.id_number_enc)),
              "phone": mask_phone(r.phone), "institution_id": r.institution_id, "team_id": r.team_id}
             for r in residents]
    return {"indicator": definition.key, "label": definition.label, "part": part, "institution_id": institution.id,
            "team_id": team.id if team else None, "year": ctx.year, "as_of": ctx.as_of,
            "items": items, "page": page, "per_page": per_page, "total": total}
