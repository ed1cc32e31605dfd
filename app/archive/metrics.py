"""Archive indicators (DOMAIN.md §7), set-based, per institution subtree.

- ``ehr`` 电子健康档案建档率: archives ÷ service population.
- ``std_ehr_coverage`` 规范化电子健康档案覆盖率: standardised archives ÷ service population.
- ``ehr_dynamic_use`` 健康档案动态使用率: archives with a service record in the last 12 months ÷ archives.

An *archive* is a resident with status ``active`` (moved-away and deceased archives are closed).

A *standardised* archive (the stated rule, :func:`standardised_clause`): the basic sheet is
complete — phone, address, ethnicity, marital status, education, occupation and blood type
filled in and at least one payment method recorded — and at least one health check
(健康体检表) is on file.

*Activity* (a service record) is a health check, another medical service record, or anything a
feature registers in :data:`ACTIVITY_SOURCES` (follow-up visits, contract deliveries…), dated
on or after the same calendar day a year earlier and not after the evaluation day.

*Service population* of a subtree: the declared ``service_population`` of the top-most
institutions in the subtree that declare one (a centre's figure covers its stations; a district
bureau that declares the district total covers everything), so nothing is counted twice.

One query counts every requested subtree at once (institutions ⋈ subtree ⋈ residents, grouped);
one more reads the institutions' paths and populations.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import aliased

from app.archive.models import HealthCheck, ServiceRecord
from app.common.time import years_before
from app.extensions import db
from app.orgs.models import Institution
from app.residents.models import Resident

# Functions ``(since: date, until: date) -> Select`` of ONE column, a resident id, for residents
# with a service on a day in [since, until]. The follow-up feature registers its visits here.
ACTIVITY_SOURCES: list = []

STANDARD_TEXT_FIELDS = ("phone", "address", "ethnicity", "marital_status", "education", "occupation",
                        "blood_type")
INDICATORS = ("ehr", "std_ehr_coverage", "ehr_dynamic_use")


def _json_array_length(column):
    if db.engine.dialect.name == "postgresql":
        return func.jsonb_array_length(column)
    return func.json_array_length(column)


def standardised_clause():
    """SQL clause over ``Resident``: the archive is standardised (see module docstring)."""
    filled = [and_(getattr(Resident, f).is_not(None), getattr(Resident, f) != "") for f in STANDARD_TEXT_FIELDS]
    has_check = select(HealthCheck.id).where(HealthCheck.resident_id == Resident.id).exists()
    return and_(*filled, Resident.payment_methods.is_not(None),
                _json_array_length(Resident.payment_methods) > 0, has_check)


def active_residents_select(since: date, until: date):
    """A UNION of resident ids with a service in [since, until] (health checks, records, hooks)."""
    parts = [
        select(HealthCheck.resident_id.label("resident_id"))
        .where(HealthCheck.checked_on >= since, HealthCheck.checked_on <= until),
        select(ServiceRecord.resident_id.label("resident_id"))
        .where(ServiceRecord.served_on >= since, ServiceRecord.served_on <= until),
    ]
    parts.extend(source(since, until) for source in ACTIVITY_SOURCES)
    return union_all(*parts)


def dynamic_window(on: date) -> tuple[date, date]:
    return years_before(on, 1), on


def indicator_rows(institution_ids: list[int], on: date) -> list[dict]:
    """Rows ``{institution_id, institution, indicator, numerator, denominator, rate}`` for the
    subtree of each institution in ``institution_ids`` (the caller checks scope)."""
    ids = list(dict.fromkeys(institution_ids))
    if not ids:
        return []
    root, sub = aliased(Institution), aliased(Institution)
    since, until = dynamic_window(on)
    active = active_residents_select(since, until).subquery()
    counts_stmt = (
        select(root.id,
               func.count(Resident.id),
               func.coalesce(func.sum(case((standardised_clause(), 1), else_=0)), 0),
               func.coalesce(func.sum(case((Resident.id.in_(select(active.c.resident_id)), 1), else_=0)), 0))
        .select_from(root)
        .join(sub, sub.path.startswith(root.path))
        .join(Resident, and_(Resident.institution_id == sub.id, Resident.status == "active"))
        .where(root.id.in_(ids))
        .group_by(root.id))
    counts = {row[0]: row[1:] for row in db.session.execute(counts_stmt)}
    institutions = db.session.execute(
        select(Institution.id, Institution.name, Institution.path, Institution.service_population)
        .where(or_(*[Institution.path.startswith(p) for p in _paths(ids)]))).all()
    rows = []
    for institution_id in ids:
        me = next((i for i in institutions if i.id == institution_id), None)
        if me is None:
            continue
        archives, standardised, dynamic = (int(x) for x in counts.get(institution_id, (0, 0, 0)))
        population = subtree_population(me.path, institutions)
        for indicator, numerator, denominator in (("ehr", archives, population),
                                                  ("std_ehr_coverage", standardised, population),
                                                  ("ehr_dynamic_use", dynamic, archives)):
            rows.append({"institution_id": institution_id, "institution": me.name, "indicator": indicator,
                         "numerator": numerator, "denominator": denominator,
                         "rate": round(numerator / denominator, 4) if denominator else None})
    return rows


def _paths(ids: list[int]) -> list[str]:
    return list(db.session.scalars(select(Institution.path).where(Institution.id.in_(ids))))


def subtree_population(path: str, institutions) -> int:
    """Sum of the top-most declared service populations inside the subtree at ``path``."""
    declared = [i for i in institutions if i.path.startswith(path) and (i.service_population or 0) > 0]
    top = [i for i in declared if not any(o is not i and i.path.startswith(o.path) for o in declared)]
    return sum(i.service_population for i in top)


def indicators_for_children(institution, on: date) -> list[dict]:
    """The institution's own subtree first, then each direct child's."""
    children = db.session.scalars(select(Institution.id).where(Institution.parent_id == institution.id)
                                  .order_by(Institution.code)).all()
    return indicator_rows([institution.id, *children], on)
