"""The living archive: entering health checks and service records and presenting them (the
one-call view is ``app.archive.view``; diagnoses are the residents feature's:
``app.residents.services.register_condition``).

Every change writes one access-log row (``app.audit``).
"""

from __future__ import annotations

from datetime import date

from app.archive import child_schedule, growth
from app.archive.models import HealthCheck, ServiceRecord
from app.audit import services as audit
from app.audit.models import AccessLog
from app.common import events, measures
from app.common.pagination import page_body, paginate
from app.common.time import age_on, today
from app.errors import Invalid
from app.extensions import db
from app.orgs.models import Institution
from app.residents.models import Condition, Resident
from app.residents.populations import ELDERLY_AGE

# 老年人生活自理能力评估: total score → level (0–3 可自理, 4–8 轻度依赖, 9–18 中度依赖, ≥19 不能自理).
SELF_CARE_LEVELS = ((3, "independent"), (8, "mild"), (18, "moderate"), (37, "dependent"))
BMI_PLAUSIBLE = (8.0, 80.0)


# --- why the reader reads ---------------------------------------------------------------------


def read_purpose(actor, resident_id: int, requested: str | None) -> str | None:
    """Residents' purposes are fixed (self_access / family_access); staff state theirs (default care)."""
    if actor.is_staff:
        return requested or "care"
    return None  # audit.describe: self_access or family_access


# --- writing --------------------------------------------------------------------------------


def check_day(field: str, day: date, resident: Resident) -> None:
    if day > today():
        raise Invalid(field, "cannot be in the future")
    if day < resident.birth_on:
        raise Invalid(field, "cannot be before the resident's birth date")


def self_care_level(score: int | None) -> str | None:
    if score is None:
        return None
    return next(level for limit, level in SELF_CARE_LEVELS if score <= limit)


def _clean(data: dict | None) -> dict:
    return {k: v for k, v in (data or {}).items() if v is not None and v != []}


def create_health_check(actor, resident: Resident, data: dict) -> HealthCheck:
    """Store one 健康体检表: BMI computed here, the 65+ items only for the elderly."""
    check_day("checked_on", data["checked_on"], resident)
    bmi = measures.bmi(data.get("weight_kg"), data.get("height_cm"))
    if bmi is not None and not BMI_PLAUSIBLE[0] <= bmi <= BMI_PLAUSIBLE[1]:
        raise Invalid("weight_kg", f"with this height the BMI would be {bmi}: check weight and height")
    elderly = data.pop("elderly", None)
    if elderly:
        if age_on(resident.birth_on, data["checked_on"]) < ELDERLY_AGE:
            raise Invalid("elderly", f"only for residents aged {ELDERLY_AGE} or over on the check day")
        elderly = _clean(elderly)
        if "self_care_score" in elderly:
            elderly["self_care_level"] = self_care_level(elderly["self_care_score"])
    check = HealthCheck(
        resident_id=resident.id,
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
        bmi=bmi,
        elderly=elderly or None,
        lifestyle=_clean(data.pop("lifestyle", None)),
        labs=_clean(data.pop("labs", None)),
        medications=[_clean(m) for m in data.pop("medications", [])],
        **data,
    )
    db.session.add(check)
    db.session.flush()
    # ``elderly`` carries the 65+ items (the cognitive screen)
    record_service(
        actor, resident.id, "health_check", check.checked_on, source="health_check", source_id=check.id,
        elderly=check.elderly,
    )  # fmt: skip
    return check


def record_service(
    actor, resident_id: int, service_type: str, served_on: date, *, source: str, source_id: int, **extra
):
    """After a clinical record is stored: its access-log row, and the announcement that a service was
    delivered (the contracts count it as a delivery, 履约; the plan engine closes the plan it fulfils)."""
    audit.record(actor, resident_id, action="create", section=source, purpose="care")
    events.service_delivered.send(
        None,
        actor=actor,
        resident_id=resident_id,
        service_type=service_type,
        served_on=served_on,
        source=source,
        source_id=source_id,
        **extra,
    )


def create_service_record(actor, resident: Resident, data: dict) -> ServiceRecord:
    check_day("served_on", data["served_on"], resident)
    details = {}
    for part in ("referral", "tcm"):
        value = data.pop(part, None)
        if value:
            details[part] = _clean(value)
    record = ServiceRecord(
        resident_id=resident.id, institution_id=actor.institution_id, recorded_by_id=actor.id, details=details, **data
    )
    db.session.add(record)
    db.session.flush()
    audit.record(actor, resident.id, action="create", section=f"service_record:{record.kind}", purpose="care")
    events.service_delivered.send(
        None,
        actor=actor,
        resident_id=resident.id,
        service_type=record.kind,
        served_on=record.served_on,
        source="service_record",
        source_id=record.id,
    )
    return record


# --- presenting -----------------------------------------------------------------------------

_VITALS = ("sbp", "dbp", "heart_rate", "weight_kg", "fasting_glucose")
_CHECK_FIELDS = _VITALS + (
    "id",
    "checked_on",
    "temperature",
    "respiration",
    "height_cm",
    "waist_cm",
    "bmi",
    "symptoms",
    "lifestyle",
    "elderly",
    "organ_function",
    "physical_exam",
    "labs",
    "main_findings",
    "medications",
    "assessment",
    "abnormalities",
    "guidance",
    "risk_factor_guidance",
    "note",
)


def present_health_check(check: HealthCheck, institution_name: str | None, doctor: str | None) -> dict:
    body = {name: getattr(check, name) for name in _CHECK_FIELDS}
    body["institution"] = {"id": check.institution_id, "name": institution_name}
    body["doctor"] = doctor
    return body


def present_service_record(record: ServiceRecord, institution_name: str | None, doctor: str | None) -> dict:
    body = {name: getattr(record, name) for name in _VITALS + ("id", "kind", "served_on", "summary")}
    body["institution"] = {"id": record.institution_id, "name": institution_name}
    body["doctor"] = doctor
    body["referral"] = (record.details or {}).get("referral")
    body["tcm"] = (record.details or {}).get("tcm")
    return body


def present_condition(condition: Condition) -> dict:
    return {
        "id": condition.id,
        "disease": condition.disease,
        "diagnosed_on": condition.diagnosed_on,
        "active": condition.active,
    }


# --- the access log --------------------------------------------------------------------------


def access_log_page(resident_id: int, page: int, per_page: int) -> dict:
    """The archive's access log, newest first, with the staff institution's name.

    Reading the log is deliberately not itself logged as an archive read.
    """
    stmt = (
        audit.log_for(resident_id)
        .add_columns(Institution.name.label("institution_name"))
        .outerjoin(Institution, Institution.id == AccessLog.institution_id)
    )
    rows, total = paginate(stmt, page, per_page, scalars=False)
    items = [
        {
            "at": row.AccessLog.at,
            "actor_kind": row.AccessLog.actor_kind,
            "actor_display": row.AccessLog.actor_display,
            "institution": row.institution_name,
            "action": row.AccessLog.action,
            "section": row.AccessLog.section,
            "purpose": row.AccessLog.purpose,
        }
        for row in rows
    ]
    return page_body(items, page, per_page, total)


def present_child_check(check, institution_name: str | None, doctor: str | None, *, child) -> dict:
    """A check (the model or a row of ``child_checks``) of ``child`` (its sex and birth date judge the
    growth) in ChildCheckOut's shape."""
    return {  # ChildCheckOut's order
        "id": check.id,
        "resident_id": check.resident_id,
        "kind": check.kind,
        "label": child_schedule.BY_KIND[check.kind].label,
        "checked_on": check.checked_on,
        "age_days": check.age_days,
        "weight_kg": check.weight_kg,
        "height_cm": check.height_cm,
        "head_circumference_cm": check.head_circumference_cm,
        "growth": growth.judge(
            child.sex, child.birth_on, check.checked_on, check.weight_kg, check.height_cm, check.head_circumference_cm
        ),
        "hemoglobin": check.hemoglobin,
        "development": check.development,
        "eye_checked": bool(check.eye_checked),
        "eye_check": check.eye,
        "tcm_guidance": check.tcm_guidance or [],
        "guidance": check.guidance or [],
        "note": check.note,
        "institution": {"id": check.institution_id, "name": institution_name},
        "doctor": doctor,
    }
