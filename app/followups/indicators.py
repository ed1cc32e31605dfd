"""The follow-up facts the chronic-disease indicators are built on (the indicators themselves are
defined once, in ``app.indicators.catalogue``; GET /followups/indicators is their view in
``app.indicators.views``):

- :func:`visit_stats`: per patient and disease, the face-to-face (clinic or home) visits in a window
  and whether the latest is on target (:data:`app.followups.rules.BP_TARGET`,
  :data:`~app.followups.rules.GLUCOSE_TARGET`);
- :data:`STANDARD_VISITS`: how many of them make management "standardised".
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, literal, select, union_all

from app.followups import rules
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupVisit

STANDARD_VISITS = 4


def _on_target(disease: str):
    visit = FollowupVisit
    if disease == "hypertension":
        return and_(
            visit.sbp.is_not(None),
            visit.dbp.is_not(None),
            visit.sbp < rules.BP_TARGET[0],
            visit.dbp < rules.BP_TARGET[1],
        )
    return and_(visit.fasting_glucose.is_not(None), visit.fasting_glucose < rules.GLUCOSE_TARGET)


def visit_stats(since: date, until: date):
    """Per patient and disease: face-to-face visits in [since, until] and whether the latest is on target."""
    visit = FollowupVisit
    parts = []
    for disease in MANAGED_DISEASES:
        ranked = (
            select(
                visit.resident_id,
                func.count().over(partition_by=visit.resident_id).label("n"),
                func.row_number()
                .over(partition_by=visit.resident_id, order_by=(visit.visit_on.desc(), visit.id.desc()))
                .label("rn"),
                case((_on_target(disease), 1), else_=0).label("ok"),
            )
            .where(
                getattr(visit, disease).is_(True),
                visit.method.in_(FACE_TO_FACE),
                visit.visit_on >= since,
                visit.visit_on <= until,
            )
            .subquery()
        )
        parts.append(
            select(ranked.c.resident_id, literal(disease).label("disease"), ranked.c.n, ranked.c.ok).where(
                ranked.c.rn == 1
            )
        )
    return union_all(*parts).subquery("stats")
