"""GET /indicators and its exports: rows for an institution's subtree and its children, per team, or
month by month (closed months from the nightly snapshots, ``jobs.snapshot_month_ends``); and the
targets as the API shows them."""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import func, select

from app.access.actors import Actor
from app.access.scope import get_institution
from app.extensions import db
from app.indicators import targets
from app.indicators.catalogue import label_of, select_definitions
from app.indicators.engine import Context, Definition, Grouping, requested
from app.indicators.facts import count
from app.indicators.models import IndicatorSnapshot as S
from app.indicators.rows import Plan, institution_rows, make_row, team_grouping, team_rows
from app.indicators.scope import bucket_mapping, load_subtree, resolve_scope, subtree_population
from app.indicators.targets import TargetBook
from app.orgs.models import Institution, Team, subtree_ids


def report(
    actor: Actor, *, institution_id=None, team_id=None, year=None, as_of=None, indicator=None, by: str = "institution"
) -> dict:
    """GET /indicators: rows for the subtree total and each child (``by=institution``), per team
    (``by=team``, or one team with ``team_id``), or a month-by-month series (``by=month``)."""
    institution, team = resolve_scope(actor, institution_id, team_id)
    ctx = requested(year, as_of)
    definitions = select_definitions(indicator)
    head = {
        "institution_id": institution.id,
        "institution_name": institution.name,
        "team_id": team.id if team else None,
        "team_name": team.name if team else None,
        "year": ctx.year,
        "as_of": ctx.as_of,
    }
    if by == "month":
        return {**head, "series": monthly_series(institution, team, ctx, definitions)}
    if team is not None:
        rows = team_rows(institution, [team], ctx, definitions)
    elif by == "team":
        teams = db.session.scalars(
            select(Team)
            .join(Institution, Institution.id == Team.institution_id)
            .where(Team.institution_id.in_(subtree_ids(institution.path)), Team.active.is_(True))
            .order_by(Institution.code, Team.id)
        ).all()
        rows = institution_rows(institution, ctx, definitions, teams=list(teams))
    else:
        rows = institution_rows(institution, ctx, definitions)
    return {**head, "rows": rows}


def export_report(actor: Actor, **args) -> dict:
    """The report of the exports (institution rows, or one team's), with the service populations."""
    body = report(actor, **args)
    institution = db.session.get(Institution, body["institution_id"])
    subtree = load_subtree(institution)
    body["service_populations"] = {
        row.id: subtree_population(row, subtree.institutions)
        for row in subtree.institutions
        if row.id == institution.id or row.parent_id == institution.id
    }
    return body


def list_targets(actor: Actor, institution_id: int | None, year: int) -> list[dict]:
    institution = get_institution(actor, institution_id or actor.institution_id)
    return [present_target(row) for row in targets.list_targets([institution.path], year)]


def present_target(row) -> dict:
    return {
        "institution_id": row.institution_id,
        "year": row.year,
        "indicator": row.indicator,
        "label": label_of(row.indicator),
        "target_rate": row.target_rate,
        "target_count": row.target_count,
        "source": row.source,
        "updated_at": row.updated_at,
    }


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
    contexts = [Context(ctx.year, day, ctx.cache) for day in month_ends(ctx)[:-1]] + [ctx]
    closed = [c.as_of for c in contexts[:-1]]
    keys = [d.key for d in definitions]
    if team is not None:
        plan = Plan(definitions, contexts, snapshot_counts("team", [team.id], closed, keys))
        found = count(team_grouping(institution, [team]), plan.specs).get(team.id, {})
        book, service_population = TargetBook([institution], ctx.year), None
    else:
        subtree = load_subtree(institution)
        plan = Plan(definitions, contexts, snapshot_counts("institution", subtree.ids, closed, keys))
        grouping = Grouping(mapping=bucket_mapping(subtree, single=True), everyone=institution.parent_id is None)
        found = count(grouping, plan.specs).get(institution.id, {})
        book = TargetBook(subtree.institutions, ctx.year)
        me = next(r for r in subtree.institutions if r.id == institution.id)
        service_population = subtree_population(me, subtree.institutions)
    series = []
    for definition in definitions:
        target_count = None if team is not None else book.count(institution, definition.key)
        stored_rate = book.rate(institution.id, definition.key)
        last_year = plan.last_year(found, definition)
        points, target = [], None
        for month, c in enumerate(contexts, start=1):
            row = make_row(
                definition,
                plan.counts(found, definition, c),
                last_year=last_year,
                service_population=service_population,
                target_count=target_count,
                stored_rate=stored_rate,
            )
            points.append(
                {
                    "month": month,
                    "as_of": c.as_of,
                    "numerator": row["numerator"],
                    "denominator": row["denominator"],
                    "rate": row["rate"],
                    "met": row["met"],
                }
            )
            target = row["target"]
        series.append(
            {
                "indicator": definition.key,
                "label": definition.label,
                "name": definition.name,
                "group": definition.group,
                "target": target,
                "target_count": target_count,
                "points": points,
            }
        )
    return series


def snapshot_counts(scope: str, ids: list[int], days: list[date], keys: list[str]) -> dict:
    """``{(day, key): (base, numerator)}`` summed over ``ids`` from the stored month ends (what the
    nightly job wrote; a (day, indicator) it has not written is computed live instead)."""
    if not days or not ids:
        return {}
    rows = db.session.execute(
        select(S.on, S.indicator, func.sum(S.base), func.sum(S.numerator))
        .where(S.scope == scope, S.on.in_(days), S.indicator.in_(keys))
        .group_by(S.on, S.indicator)
        .where(S.scope_id.in_(ids))
    ).all()
    present = {
        (on, key)
        for on, key in db.session.execute(
            select(S.on, S.indicator).where(S.scope == scope, S.on.in_(days), S.indicator.in_(keys)).distinct()
        )
    }
    found = {(on, key): (int(b), int(n)) for on, key, b, n in rows}
    return {point: found.get(point, (0, 0)) for point in present}
