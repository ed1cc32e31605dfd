"""The rows of a report: each definition's counts with its denominator, target and whether it is met,
for an institution's subtree total, its own residents, each direct child and each team
(:func:`institution_rows`, :func:`team_rows`). A subtree's total is the sum of its buckets (every
indicator is a ratio of counts). No authorisation here: callers check scope.
"""

from __future__ import annotations

from app.indicators.engine import Context, Definition, Grouping, add
from app.indicators.facts import count
from app.indicators.scope import bucket_mapping, load_subtree, subtree_population
from app.indicators.targets import TargetBook
from app.orgs.models import Institution

TOTAL, DIRECT, CHILD, TEAM = "total", "direct", "child", "team"


def rate(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def met(value: float | None, target: float | None) -> bool | None:
    if value is None or target is None:
        return None
    return value >= target - 1e-9


class Plan:
    """The specs of one count: the definitions at ``ctx`` (and at other days), plus last year's
    evaluation of those whose target is last year's rate."""

    def __init__(self, definitions: list[Definition], contexts: list[Context], stored: dict | None = None):
        self.definitions = definitions
        self.contexts = contexts
        self.ctx = contexts[-1]
        self.last = self.ctx.last_year()
        self.stored = stored or {}  # (day, key) → (base, numerator) read from the snapshots
        self.specs = [
            (c, d) for c in contexts for d in definitions if c is self.ctx or (c.as_of, d.key) not in self.stored
        ]
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


def make_row(
    definition: Definition,
    counts: tuple[int, int],
    *,
    last_year=None,
    service_population=None,
    target_count=None,
    stored_rate=None,
    **identity,
) -> dict:
    base, numerator = counts
    if definition.denominator == "service_population":
        denominator = service_population
    elif definition.denominator == "target_count":
        denominator = target_count
    else:
        denominator = base
    value = rate(numerator, denominator)
    target = _target(definition, stored_rate, last_year)
    return {
        **identity,
        "indicator": definition.key,
        "label": definition.label,
        "group": definition.group,
        "numerator": numerator,
        "denominator": denominator,
        "rate": value,
        "target": target,
        "target_count": target_count,
        "met": met(value, target),
    }


def _rows_for(
    plan: Plan, found: dict, *, identity: dict, book: TargetBook | None, institution, service_population
) -> list[dict]:
    rows = []
    for definition in plan.definitions:
        target_count = stored_rate = None
        if book is not None and institution is not None:
            target_count = book.count(institution, definition.key) if identity.get("scope") != DIRECT else None
            stored_rate = book.rate(institution.id, definition.key)
        rows.append(
            make_row(
                definition,
                plan.counts(found, definition),
                last_year=plan.last_year(found, definition),
                target_count=target_count,
                stored_rate=stored_rate,
                service_population=service_population,
                **identity,
            )
        )
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
            into[index] = add(into.get(index), value)
    return out


def institution_rows(
    root: Institution, ctx: Context, definitions: list[Definition], teams: list | None = None
) -> list[dict]:
    """Rows for the subtree total, the institution's own residents (when it has children and any) and
    each child's subtree — and, with ``teams``, each team (the same query). No authorisation here."""
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
        total = {i: add(total[i], bucket.get(i)) for i in total}
    me = next(r for r in subtree.institutions if r.id == root.id)
    rows = _rows_for(
        plan,
        total,
        identity=_identity(me, TOTAL),
        book=book,
        institution=me,
        service_population=subtree_population(me, subtree.institutions),
    )
    direct = found.get(root.id)
    if subtree.children and direct and any(b for b, _ in direct.values()):
        rows += _rows_for(
            plan, direct, identity=_identity(me, DIRECT), book=book, institution=me, service_population=None
        )
    for child in subtree.children:
        rows += _rows_for(
            plan,
            found.get(child.id, {}),
            identity=_identity(child, CHILD),
            book=book,
            institution=child,
            service_population=subtree_population(child, subtree.institutions),
        )
    if teams is not None:
        return rows[: len(definitions)] + _team_rows(plan, teams, by_team, book, root)
    return rows


def _identity(row, scope: str) -> dict:
    return {"institution_id": row.id, "institution_name": row.name, "team_id": None, "team_name": None, "scope": scope}


def team_rows(institution: Institution, teams: list, ctx: Context, definitions: list[Definition]) -> list[dict]:
    """Rows per team (residents whose responsible team it is); targets: the institution's rates."""
    plan = Plan(definitions, [ctx])
    found = count(team_grouping(institution, teams), plan.specs) if teams else {}
    return _team_rows(plan, teams, found, TargetBook([institution], ctx.year), institution)


def team_grouping(institution: Institution, teams: list) -> Grouping:
    """Teams' residents within the institution's subtree (as the drill-down lists them)."""
    subtree = load_subtree(institution)
    return Grouping(
        team_ids=[t.id for t in teams],
        mapping=bucket_mapping(subtree, single=True),
        everyone=institution.parent_id is None,
    )


def _team_rows(plan: Plan, teams: list, found: dict, book: TargetBook, institution) -> list[dict]:
    rows = []
    for team in teams:
        identity = {
            "institution_id": team.institution_id,
            "institution_name": team.institution.name,
            "team_id": team.id,
            "team_name": team.name,
            "scope": TEAM,
        }
        for row in _rows_for(
            plan, found.get(team.id, {}), identity=identity, book=None, institution=None, service_population=None
        ):
            stored = book.rate(institution.id, row["indicator"])
            if stored is not None:
                row["target"] = stored
                row["met"] = met(row["rate"], stored)
            rows.append(row)
    return rows
