"""The living archive: entering health checks and service records, and the one-call view the
phone's archive screen (and the doctor app) reads (diagnoses are the residents feature's:
``app.residents.services.register_condition``).

Every read and every change writes one access-log row (``app.audit``). The view issues a
fixed number of queries whatever the archive's size: each list is one page query carrying its
total (a count query only for a page past the end), the three-year comparison is one windowed
query, and sections contributed by other features (follow-ups, contract) come through
:data:`ARCHIVE_SECTIONS`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import extract, func, select

from app.accounts.models import Staff
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
from app.residents.populations import ELDERLY_AGE, populations_of
from app.residents.presenters import present_resident

# Sections other features add to GET /residents/{rid}/archive without this package importing
# them: functions ``(resident, args) -> (key, value)`` where ``args`` is a dict with "actor",
# "today", "owner" (the reader is the resident), "per_page" and "purpose". Keys the output
# schema knows: "followups", "contract". A function may return None to contribute nothing.
ARCHIVE_SECTIONS: list = []

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


def _check_day(field: str, day: date, resident: Resident) -> None:
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
    _check_day("checked_on", data["checked_on"], resident)
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
    audit.record(actor, resident.id, action="create", section="health_check", purpose="care")
    # a delivery (履约) for the contracts; ``elderly`` carries the 65+ items (the cognitive screen)
    events.service_delivered.send(
        None,
        actor=actor,
        resident_id=resident.id,
        service_type="health_check",
        served_on=check.checked_on,
        source="health_check",
        source_id=check.id,
        elderly=check.elderly,
    )
    return check


def create_service_record(actor, resident: Resident, data: dict) -> ServiceRecord:
    _check_day("served_on", data["served_on"], resident)
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


def _with_names(model):
    """Rows of ``model`` with the institution's and the recording doctor's names (one query)."""
    return (
        select(model, Institution.name.label("institution_name"), Staff.name.label("doctor"))
        .outerjoin(Institution, Institution.id == model.institution_id)
        .outerjoin(Staff, Staff.id == model.recorded_by_id)
    )


def health_checks_stmt(resident_id: int):
    return (
        _with_names(HealthCheck)
        .where(HealthCheck.resident_id == resident_id)
        .order_by(HealthCheck.checked_on.desc(), HealthCheck.id.desc())
    )


def service_records_stmt(resident_id: int):
    return (
        _with_names(ServiceRecord)
        .where(ServiceRecord.resident_id == resident_id)
        .order_by(ServiceRecord.served_on.desc(), ServiceRecord.id.desc())
    )


def three_year_comparison(resident_id: int, day: date) -> list[dict]:
    """The latest check of this year and of each of the two years before (老年人 3-year comparison).

    One query: a window function keeps the latest check per calendar year.
    """
    first_year = day.year - 2
    year = extract("year", HealthCheck.checked_on)
    ranked = (
        select(
            HealthCheck.checked_on,
            HealthCheck.sbp,
            HealthCheck.dbp,
            HealthCheck.weight_kg,
            HealthCheck.bmi,
            HealthCheck.fasting_glucose,
            func.row_number()
            .over(partition_by=year, order_by=(HealthCheck.checked_on.desc(), HealthCheck.id.desc()))
            .label("rn"),
        )
        .where(
            HealthCheck.resident_id == resident_id,
            HealthCheck.checked_on >= date(first_year, 1, 1),
            HealthCheck.checked_on <= day,
        )
        .subquery()
    )
    rows = {r.checked_on.year: r for r in db.session.execute(select(ranked).where(ranked.c.rn == 1))}
    out = []
    for y in range(day.year, first_year - 1, -1):
        r = rows.get(y)
        out.append(
            {
                "year": y,
                "checked_on": r.checked_on if r else None,
                **{k: (getattr(r, k) if r else None) for k in ("sbp", "dbp", "weight_kg", "bmi", "fasting_glucose")},
            }
        )
    return out


def _page(stmt, page, per_page, present):
    """One query per list: the total rides on the page's rows (``count(*) over ()``). Only a page past the
    end, with no row to carry it, counts separately (an empty first page means none at all)."""
    rows = db.session.execute(
        stmt.add_columns(func.count().over().label("total")).limit(per_page).offset((page - 1) * per_page)
    ).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return page_body([present(row[0], row.institution_name, row.doctor) for row in rows], page, per_page, total)


def jsonable(value):
    """Hook sections are passed through as they are: dates and instants as ISO 8601, decimals as numbers
    (Flask's own JSON encoder would write dates as HTTP dates)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def archive_view(actor, resident: Resident, args: dict) -> dict:
    """GET /residents/{rid}/archive: everything the archive screen needs, one access-log row."""
    day = today()
    owner = actor.resident_id == resident.id and not actor.is_staff
    wanted = set(args.get("sections") or ())
    per_page = args.get("per_page", 10)

    def want(name):
        return not wanted or name in wanted

    body: dict = {key: None for key in ("followups", "contract") if want(key)}
    if want("basic_info"):
        body["basic_info"] = present_resident(resident, owner=owner)
    if want("populations"):
        body["populations"] = populations_of(resident, day)
    if want("conditions"):
        body["conditions"] = [present_condition(c) for c in resident.conditions]
    if want("health_checks"):
        section = _page(
            health_checks_stmt(resident.id), args.get("health_checks_page", 1), per_page, present_health_check
        )
        elderly = age_on(resident.birth_on, day) >= ELDERLY_AGE
        section["comparison"] = three_year_comparison(resident.id, day) if elderly else None
        body["health_checks"] = section
    if want("service_records"):
        body["service_records"] = _page(
            service_records_stmt(resident.id), args.get("service_records_page", 1), per_page, present_service_record
        )
    purpose = read_purpose(actor, resident.id, args.get("purpose"))
    hook_args = {"actor": actor, "today": day, "owner": owner, "per_page": per_page, "purpose": purpose}
    for contribute in ARCHIVE_SECTIONS:
        found = contribute(resident, hook_args)
        if found is not None and want(found[0]):
            body[found[0]] = jsonable(found[1])
    section_name = "archive" if not wanted else ("archive:" + ",".join(sorted(wanted)))[:40]
    audit.record(actor, resident.id, action="read", section=section_name, purpose=purpose)
    return body


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
