"""Chronic-disease indicators for a year (DOMAIN.md §7), set-based, per institution subtree or team.

Evaluated "as of" a day D of the year (default: today, or 31 December for a past year), over the
visits dated 1 January … D:

- **managed patients** of a disease on D: an active diagnosis recorded on or before D, and an
  archive active on D (active now, or moved away / deceased after D);
- ``<disease>_managed`` 患者管理人数: managed ÷ the task target count (应管人数) from the
  ``targets`` mapping (denominator and rate null when no target is given); met when ≥ 100 %;
- ``<disease>_standardised_management`` 基层规范管理服务率: managed patients with ≥ 4 face-to-face
  (clinic or home) visits covering that disease ÷ managed (target 64 %);
- ``hypertension_bp_control`` 血压控制率: managed patients whose latest face-to-face hypertension
  visit of the year has SBP < 140 and DBP < 90 ÷ managed (45 %);
- ``t2dm_glucose_control`` 血糖控制率: … whose latest face-to-face T2DM visit of the year has a fasting
  glucose < 7.0 mmol/L ÷ managed (35 %).

One query per call: the year's visits are ranked per patient (count and latest, window functions),
joined to the managed patients of every requested scope, and summed. A patient counts once in each
scope that contains them (a subtree includes its clinics and stations).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from app.common.time import today as local_today
from app.extensions import db
from app.followups import rules
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupVisit
from app.orgs.models import Institution
from app.residents.models import Condition, Resident

STANDARD_VISITS = 4
# (indicator, label, disease, measure, target rate)
INDICATORS = (
    ("hypertension_managed", "高血压患者管理人数", "hypertension", "managed", 1.0),
    ("hypertension_standardised_management", "高血压患者基层规范管理服务率", "hypertension", "standardised", 0.64),
    ("hypertension_bp_control", "高血压患者血压控制率", "hypertension", "controlled", 0.45),
    ("t2dm_managed", "2型糖尿病患者管理人数", "t2dm", "managed", 1.0),
    ("t2dm_standardised_management", "2型糖尿病患者基层规范管理服务率", "t2dm", "standardised", 0.64),
    ("t2dm_glucose_control", "2型糖尿病患者血糖控制率", "t2dm", "controlled", 0.35),
)


def evaluation_day(year: int, on: date | None = None) -> date:
    if on is not None:
        return on
    return min(local_today(), date(year, 12, 31))


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


def managed_on(on: date):
    """SQL over Resident ⋈ Condition: a managed patient of ``Condition.disease`` on ``on``."""
    return and_(Condition.active, Condition.disease.in_(MANAGED_DISEASES), Condition.diagnosed_on <= on,
                or_(Resident.status == "active",
                    and_(Resident.status_changed_on.is_not(None), Resident.status_changed_on > on)))


def _sums(stats):
    return (func.count(Condition.id).label("managed"),
            func.coalesce(func.sum(case((stats.c.n >= STANDARD_VISITS, 1), else_=0)), 0).label("standardised"),
            func.coalesce(func.sum(func.coalesce(stats.c.ok, 0)), 0).label("controlled"))


def _rate(numerator: int, denominator: int | None) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def indicator_rows(year: int, *, institution_ids: list[int] | None = None, team_ids: list[int] | None = None,
                   targets: Mapping[int, Mapping[str, int]] | None = None, on: date | None = None) -> list[dict]:
    """Rows ``{institution_id | team_id, indicator, label, disease, numerator, denominator, rate, target,
    met}`` for each institution subtree in ``institution_ids`` — or each team in ``team_ids`` (patients
    whose responsible team it is) — in the order given.

    ``targets`` maps a scope id (institution or team, as requested) to ``{"hypertension": n, "t2dm": m}``,
    the task target counts (应管人数) used as the denominator of the ``*_managed`` rows. No authorisation
    here: callers check scope.
    """
    if (institution_ids is None) == (team_ids is None):
        raise ValueError("give institution_ids or team_ids")
    by_team = team_ids is not None
    ids = list(dict.fromkeys(team_ids if by_team else institution_ids))
    if not ids:
        return []
    day = evaluation_day(year, on)
    stats = visit_stats(date(year, 1, 1), day)
    joined_stats = and_(stats.c.resident_id == Resident.id, stats.c.disease == Condition.disease)
    if by_team:
        stmt = (select(Resident.team_id.label("scope_id"), Condition.disease, *_sums(stats))
                .select_from(Resident).join(Condition, Condition.resident_id == Resident.id)
                .outerjoin(stats, joined_stats)
                .where(Resident.team_id.in_(ids), managed_on(day))
                .group_by(Resident.team_id, Condition.disease))
    else:
        root, sub = aliased(Institution), aliased(Institution)
        stmt = (select(root.id.label("scope_id"), Condition.disease, *_sums(stats))
                .select_from(root).join(sub, sub.path.startswith(root.path))
                .join(Resident, Resident.institution_id == sub.id)
                .join(Condition, Condition.resident_id == Resident.id)
                .outerjoin(stats, joined_stats)
                .where(root.id.in_(ids), managed_on(day))
                .group_by(root.id, Condition.disease))
    found = {(row.scope_id, row.disease): row for row in db.session.execute(stmt)}
    key = "team_id" if by_team else "institution_id"
    rows = []
    for scope_id in ids:
        for indicator, label, disease, measure, target in INDICATORS:
            row = found.get((scope_id, disease))
            managed = int(row.managed) if row else 0
            if measure == "managed":
                numerator = managed
                denominator = ((targets or {}).get(scope_id) or {}).get(disease)
            else:
                numerator = int(getattr(row, measure)) if row else 0
                denominator = managed
            rate = _rate(numerator, denominator)
            rows.append({key: scope_id, "indicator": indicator, "label": label, "disease": disease,
                         "numerator": numerator, "denominator": denominator, "rate": rate, "target": target,
                         "met": None if rate is None else rate >= target - 1e-9})
    return rows
