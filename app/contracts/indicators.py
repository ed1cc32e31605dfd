"""Signing indicators (签约率 overall and per key population, 以家庭为单位签约率, 续约率) for
``GET /contracts/indicators``: a view of the indicators feature, where each indicator is defined once
(``app.indicators.definitions``, docs/indicators.md).

Everything — who counts on the day D, the targets (the targets table for the institution and year,
else the definition's default; the overall target is last year's rate, the indicator evaluated on
D minus one year, + 3 pp) — comes from there; this module only picks the scope (an institution's
subtree, or the residents whose responsible team is a team) and keeps the endpoint's row shape.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.access.scope import get_institution, get_team
from app.common.time import today
from app.extensions import db
from app.orgs.models import Institution, Team


def _rows(on: date, institution: Institution | None, team: Team | None) -> list[dict]:
    """The signing rows of the institution's subtree, or of the team (within the institution's subtree
    when one is given). Late imports: the indicators feature reads the contracts models."""
    from app.indicators import service
    from app.indicators.definitions import DEFINITIONS, KEY_POPULATIONS, evaluation

    ctx = evaluation(on.year, on)
    definitions = [d for d in DEFINITIONS if d.group == "signing"]
    if team is not None:
        rows = service.team_rows(institution or team.institution, [team], ctx, definitions)
    else:
        rows = [r for r in service.institution_rows(institution, ctx, definitions) if r["scope"] == service.TOTAL]
    population = {f"signing_rate_{p}": p for p in KEY_POPULATIONS}
    return [{"indicator": r["indicator"], "label": r["label"], "population": population.get(r["indicator"]),
             "numerator": r["numerator"], "denominator": r["denominator"], "rate": r["rate"],
             "target": r["target"], "met": r["met"]} for r in rows]


def indicator_rows(*, on: date | None = None, institution_path: str | None = None,
                   team_id: int | None = None) -> list[dict]:
    """Rows ``{indicator, label, population, numerator, denominator, rate, target, met}``.

    No authorisation here: callers scope (``signing_indicators`` for the API). Without a
    path or team, the whole district."""
    if institution_path is not None:
        institution = db.session.scalar(select(Institution).where(Institution.path == institution_path))
    elif team_id is None:
        institution = db.session.scalar(select(Institution).where(Institution.parent_id.is_(None))
                                        .order_by(Institution.id).limit(1))
    else:
        institution = None
    team = db.session.get(Team, team_id) if team_id is not None else None
    return _rows(on or today(), institution, team)


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
    return {"on": on, "institution_id": institution.id if institution else None,
            "team_id": team.id if team else None, "rows": _rows(on, institution, team)}
