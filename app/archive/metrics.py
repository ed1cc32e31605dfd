"""The archive facts the archive indicators are built on. The indicators are defined once, in
``app.indicators.catalogue`` (docs/indicators.md; GET /archive/metrics is their view in
``app.indicators.views``):

- ``ehr`` 电子健康档案建档率: archives open on D ÷ service population;
- ``std_ehr_coverage`` 规范化电子健康档案覆盖率: standardised open archives ÷ service population;
- ``ehr_dynamic_use`` 健康档案动态使用率: open archives with a service in D minus one year … D ÷ open
  archives.

An archive is *open* on D when its status is ``active``, or it was moved away / deceased after D.
This module keeps the archive feature's own facts those definitions read:

- a *standardised* archive (:func:`standardised_clause`): the basic sheet is complete — phone,
  address, ethnicity, marital status, education, occupation and blood type filled in and at least
  one payment method recorded — and at least one health check (健康体检表) is on file;
- *activity* (:func:`active_residents_select`): a health check, another medical service record, or
  anything a feature registers in :data:`ACTIVITY_SOURCES` (follow-up visits, contract
  deliveries…), dated in the window (:func:`dynamic_window`: the same calendar day a year earlier …
  the evaluation day).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select, union_all

from app.archive.models import HealthCheck, ServiceRecord
from app.common.time import years_before
from app.extensions import db
from app.residents.models import Resident

# Functions ``(since: date, until: date) -> Select`` of ONE column, a resident id, for residents
# with a service on a day in [since, until]: follow-up visits, contract deliveries (``app.wiring``).
ACTIVITY_SOURCES: list = []

STANDARD_TEXT_FIELDS = ("phone", "address", "ethnicity", "marital_status", "education", "occupation", "blood_type")


def _json_array_length(column):
    if db.engine.dialect.name == "postgresql":
        return func.jsonb_array_length(column)
    return func.json_array_length(column)


def standardised_clause():
    """SQL clause over ``Resident``: the archive is standardised (see module docstring)."""
    filled = [and_(getattr(Resident, f).is_not(None), getattr(Resident, f) != "") for f in STANDARD_TEXT_FIELDS]
    has_check = select(HealthCheck.id).where(HealthCheck.resident_id == Resident.id).exists()
    return and_(
        *filled, Resident.payment_methods.is_not(None), _json_array_length(Resident.payment_methods) > 0, has_check
    )


def active_residents_select(since: date, until: date):
    """A UNION of resident ids with a service in [since, until] (health checks, records, hooks)."""
    parts = [
        select(HealthCheck.resident_id.label("resident_id")).where(
            HealthCheck.checked_on >= since, HealthCheck.checked_on <= until
        ),
        select(ServiceRecord.resident_id.label("resident_id")).where(
            ServiceRecord.served_on >= since, ServiceRecord.served_on <= until
        ),
    ]
    parts.extend(source(since, until) for source in ACTIVITY_SOURCES)
    return union_all(*parts)


def dynamic_window(on: date) -> tuple[date, date]:
    return years_before(on, 1), on
