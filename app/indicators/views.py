"""The indicators as other features' endpoints show them: ``GET /archive/metrics`` (the archive
group), ``GET /followups/indicators`` (the chronic group) and ``GET /contracts/indicators`` (the
signing group). Each picks its definitions and scope
and keeps its endpoint's row shape; the numbers are those of GET /indicators (the agreement tests).
No authorisation here except in :func:`signing_for` (callers check scope)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.access.scope import get_institution, get_team
from app.common.time import today
from app.extensions import db
from app.followups.models import MANAGED_DISEASES
from app.indicators.catalogue import DEFINITIONS
from app.indicators.clauses import KEY_POPULATIONS
from app.indicators.engine import evaluation
from app.indicators.rows import CHILD, TOTAL, institution_rows, team_rows
from app.orgs.models import Institution, Team

# --- the archive (建档率, 规范化档案覆盖率, 动态使用率) ----------------------------------------------


def archive_rows(institution_ids: list[int], on: date) -> list[dict]:
    """Rows ``{institution_id, institution, indicator, numerator, denominator, rate}`` for the
    subtree of each institution in ``institution_ids``."""
    rows = []
    for institution_id in dict.fromkeys(institution_ids):
        institution = db.session.get(Institution, institution_id)
        if institution is not None:
            rows += [r for r in _archive(institution, on) if r["scope"] == TOTAL]
    return [_archive_row(r) for r in rows]


def archive_for_children(institution: Institution, on: date) -> list[dict]:
    """The institution's own subtree first, then each direct child's (one count)."""
    return [_archive_row(r) for r in _archive(institution, on) if r["scope"] in (TOTAL, CHILD)]


def _archive(institution: Institution, on: date) -> list[dict]:
    return institution_rows(institution, evaluation(on.year, on), [d for d in DEFINITIONS if d.group == "archive"])


def _archive_row(row: dict) -> dict:
    return {
        "institution_id": row["institution_id"],
        "institution": row["institution_name"],
        "indicator": row["indicator"],
        "numerator": row["numerator"],
        "denominator": row["denominator"],
        "rate": row["rate"],
    }


# --- chronic disease (患者管理人数, 基层规范管理服务率, 血压控制率, 血糖达标率) ---------------------------


def chronic_rows(
    year: int, *, institution_ids: list[int] | None = None, team_ids: list[int] | None = None, on: date | None = None
) -> list[dict]:
    """Rows ``{institution_id | team_id, indicator, label, disease, numerator, denominator, rate, target,
    met}`` for each institution subtree in ``institution_ids`` — or each team in ``team_ids`` (patients
    whose responsible team it is, within its institution's subtree) — in the order given, as of ``on``
    (default: today, capped at 31 December of ``year``). A team has no target count, so its
    ``*_managed`` rows have no denominator.
    """
    if (institution_ids is None) == (team_ids is None):
        raise ValueError("give institution_ids or team_ids")
    ctx = evaluation(year, on)
    definitions = [d for d in DEFINITIONS if d.group == "chronic"]
    rows = []
    if team_ids is not None:
        for team_id in dict.fromkeys(team_ids):
            team = db.session.get(Team, team_id)
            rows += [_chronic_row(r, "team_id", team_id) for r in team_rows(team.institution, [team], ctx, definitions)]
        return rows
    for institution_id in dict.fromkeys(institution_ids):
        rows += [
            _chronic_row(r, "institution_id", institution_id)
            for r in institution_rows(db.session.get(Institution, institution_id), ctx, definitions)
            if r["scope"] == TOTAL
        ]
    return rows


def _chronic_row(row: dict, key: str, scope_id: int) -> dict:
    disease = next(d for d in MANAGED_DISEASES if row["indicator"].startswith(f"{d}_"))
    return {
        key: scope_id,
        "indicator": row["indicator"],
        "label": row["label"],
        "disease": disease,
        "numerator": row["numerator"],
        "denominator": row["denominator"],
        "rate": row["rate"],
        "target": row["target"],
        "met": row["met"],
    }


# --- signing (签约率 overall and per key population, 以家庭为单位签约率, 续约率) ----------------------------


def signing_rows(on: date, institution: Institution | None, team: Team | None) -> list[dict]:
    """Rows ``{indicator, label, population, numerator, denominator, rate, target, met}`` of the
    institution's subtree, or of the team (within the institution's subtree when one is given)."""
    ctx = evaluation(on.year, on)
    definitions = [d for d in DEFINITIONS if d.group == "signing"]
    if team is not None:
        rows = team_rows(institution or team.institution, [team], ctx, definitions)
    else:
        rows = [r for r in institution_rows(institution, ctx, definitions) if r["scope"] == TOTAL]
    population = {f"signing_rate_{p}": p for p in KEY_POPULATIONS}
    return [
        {
            "indicator": r["indicator"],
            "label": r["label"],
            "population": population.get(r["indicator"]),
            "numerator": r["numerator"],
            "denominator": r["denominator"],
            "rate": r["rate"],
            "target": r["target"],
            "met": r["met"],
        }
        for r in rows
    ]


def signing_indicator_rows(
    *, on: date | None = None, institution_path: str | None = None, team_id: int | None = None
) -> list[dict]:
    """:func:`signing_rows` by institution path or team id; without either, the whole district."""
    if institution_path is not None:
        institution = db.session.scalar(select(Institution).where(Institution.path == institution_path))
    elif team_id is None:
        institution = db.session.scalar(
            select(Institution).where(Institution.parent_id.is_(None)).order_by(Institution.id).limit(1)
        )
    else:
        institution = None
    team = db.session.get(Team, team_id) if team_id is not None else None
    return signing_rows(on or today(), institution, team)


def signing_for(
    actor, *, institution_id: int | None = None, team_id: int | None = None, on: date | None = None
) -> dict:
    """The signing indicators for a scope the actor may see (their own institution by default)."""
    on = on or today()
    team = get_team(actor, team_id) if team_id is not None else None
    if institution_id is not None:
        institution = get_institution(actor, institution_id)
    elif team is not None:
        institution = None
    else:
        institution = get_institution(actor, actor.institution_id)
    return {
        "on": on,
        "institution_id": institution.id if institution else None,
        "team_id": team.id if team else None,
        "rows": signing_rows(on, institution, team),
    }
