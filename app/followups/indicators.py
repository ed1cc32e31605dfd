"""Chronic-disease indicators for ``GET /followups/indicators`` — a view of the indicators feature —
and the follow-up statistics that feature's definitions are built on.

The indicators (患者管理人数, 基层规范管理服务率, 血压控制率, 血糖达标率 of hypertension and T2DM) are
defined once, in ``app.indicators.definitions``: managed patients on D, the year's face-to-face
visits, the targets (the targets table for the institution and year, else the defaults; the
``*_managed`` rows' denominator is the task target count 应管人数 from that table). Here:

- :func:`visit_stats`, this feature's own fact the definitions read: per patient and disease, the
  face-to-face (clinic or home) visits in a window and whether the latest is on target
  (:data:`app.followups.rules.BP_TARGET`, :data:`~app.followups.rules.GLUCOSE_TARGET`), and
  :data:`STANDARD_VISITS`, how many of them make management "standardised";
- :func:`indicator_rows`, the endpoint's rows for institution subtrees or teams.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, literal, select, union_all

from app.extensions import db
from app.followups import rules
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupVisit
from app.orgs.models import Institution, Team

STANDARD_VISITS = 4


def _on_target(disease: str):
    visit = FollowupVisit
    if disease == "hypertension":
        return and_(visit.sbp.is_not(None), visit.dbp.is_not(None),
                    visit.sbp < rules.BP_TARGET[0], visit.dbp < rules.BP_TARGET[1])
    return and_(visit.fasting_glucose.is_not(None), visit.fasting_glucose < rules.GLUCOSE_TARGET)


def visit_stats(since: date, until: date):
    """Per patient and disease: face-to-face visits in [since, until] and whether the latest is on target."""
    visit = FollowupVisit
    parts = []
    for disease in MANAGED_DISEASES:
        ranked = (select(visit.resident_id,
                         func.count().over(partition_by=visit.resident_id).label("n"),
                         func.row_number().over(partition_by=visit.resident_id,
                                                order_by=(visit.visit_on.desc(), visit.id.desc())).label("rn"),
                         case((_on_target(disease), 1), else_=0).label("ok"))
                  .where(getattr(visit, disease).is_(True), visit.method.in_(FACE_TO_FACE),
                         visit.visit_on >= since, visit.visit_on <= until)
                  .subquery())
        parts.append(select(ranked.c.resident_id, literal(disease).label("disease"), ranked.c.n, ranked.c.ok)
                     .where(ranked.c.rn == 1))
    return union_all(*parts).subquery("stats")


def indicator_rows(year: int, *, institution_ids: list[int] | None = None, team_ids: list[int] | None = None,
                   on: date | None = None) -> list[dict]:
    """Rows ``{institution_id | team_id, indicator, label, disease, numerator, denominator, rate, target,
    met}`` for each institution subtree in ``institution_ids`` — or each team in ``team_ids`` (patients
    whose responsible team it is, within its institution's subtree) — in the order given, as of ``on``
    (default: today, capped at 31 December of ``year``). A team has no target count, so its
    ``*_managed`` rows have no denominator. No authorisation here: callers check scope.
    """
    from app.indicators import service
    from app.indicators.definitions import DEFINITIONS, evaluation

    if (institution_ids is None) == (team_ids is None):
        raise ValueError("give institution_ids or team_ids")
    ctx = evaluation(year, on)
    definitions = [d for d in DEFINITIONS if d.group == "chronic"]
    rows = []
    if team_ids is not None:
        for team_id in dict.fromkeys(team_ids):
            team = db.session.get(Team, team_id)
            rows += [_present(r, "team_id", team_id) for r in service.team_rows(team.institution, [team], ctx,
                                                                                definitions)]
        return rows
    for institution_id in dict.fromkeys(institution_ids):
        rows += [_present(r, "institution_id", institution_id)
                 for r in service.institution_rows(db.session.get(Institution, institution_id), ctx, definitions)
                 if r["scope"] == service.TOTAL]
    return rows


def _present(row: dict, key: str, scope_id: int) -> dict:
    disease = next(d for d in MANAGED_DISEASES if row["indicator"].startswith(f"{d}_"))
    return {key: scope_id, "indicator": row["indicator"], "label": row["label"], "disease": disease,
            "numerator": row["numerator"], "denominator": row["denominator"], "rate": row["rate"],
            "target": row["target"], "met": row["met"]}
