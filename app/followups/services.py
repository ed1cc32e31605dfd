"""Recording follow-up visits, keeping the plans, the doctor's worklist and the resident's view.

Who is managed: a resident whose archive is ``active`` with an active ``Condition`` of
hypertension or T2DM (``app.residents.populations.has_condition`` — the same definition as
the population lists). Management of a disease ends when the resident moves away or dies or
the diagnosis is deactivated: the worklist and the reminders drop the patient at once (their
queries check it), and the daily plan job closes the plan.

Plans are kept per patient *and disease*; a visit says which parts of the form were filled
in (``disease``: hypertension, t2dm or both). A combined visit closes both plans; a visit
covering one disease closes only that one — the other disease stays due. Only a face-to-face
visit (clinic or home) closes a plan; a phone follow-up is recorded and classified, and when it
needs a recheck it brings the open plan's window forward instead.
"""
from __future__ import annotations

import functools
import logging
from datetime import date, timedelta

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_managed_team, resident_clause
from app.audit import services as audit
from app.common.ids import mask_phone
from app.common.pagination import page_body
from app.common.time import age_on, today
from app.errors import Conflict, Invalid
from app.extensions import db
from app.followups import rules
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupPlan, FollowupVisit
from app.residents.models import Condition, Resident

log = logging.getLogger(__name__)

DELIVERY_SERVICE_TYPE = "chronic_followup"
_FORM_FIELDS = (
    "visit_on", "method", "symptoms", "symptoms_other", "sbp", "dbp", "heart_rate", "weight_kg",
    "target_weight_kg", "dorsalis_pedis", "lifestyle", "psychological_adjustment", "compliance",
    "fasting_glucose", "hba1c", "hba1c_on", "adherence", "adverse_reaction", "adverse_reaction_text",
    "hypoglycaemia", "complications", "medications", "insulin", "referral", "next_visit_on", "note",
    "classification_reason",
)


# --- who is managed -------------------------------------------------------------------------

def condition_active(disease_column):
    """SQL: the resident (``Resident.id``) has an active diagnosis of ``disease_column``."""
    return exists(select(Condition.id).where(Condition.resident_id == Resident.id,
                                             Condition.disease == disease_column, Condition.active))


def managed_plan_clause():
    """SQL over FollowupPlan ⋈ Resident: the plan's patient is still managed for its disease."""
    return and_(Resident.status == "active", condition_active(FollowupPlan.disease))


def managed_diseases(resident: Resident) -> list[str]:
    if resident.status != "active":
        return []
    active = {c.disease for c in resident.conditions if c.active}
    return [d for d in MANAGED_DISEASES if d in active]


# --- recording a visit ----------------------------------------------------------------------

def _lock_resident(resident_id: int) -> None:
    """Serialise follow-up writes for one patient (PostgreSQL row lock; SQLite has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())


def _last_height(resident_id: int) -> float | None:
    height = db.session.scalar(
        select(FollowupVisit.height_cm).where(FollowupVisit.resident_id == resident_id,
                                              FollowupVisit.height_cm.is_not(None))
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc()).limit(1))
    if height is not None:
        return height
    try:
        from app.archive.models import HealthCheck
    except ModuleNotFoundError:  # a build without the archive feature
        return None
    return db.session.scalar(
        select(HealthCheck.height_cm).where(HealthCheck.resident_id == resident_id,
                                            HealthCheck.height_cm.is_not(None))
        .order_by(HealthCheck.checked_on.desc(), HealthCheck.id.desc()).limit(1))


def _bmi(weight: float | None, height: float | None) -> float | None:
    if weight is None or height is None:
        return None
    return round(weight / (height / 100) ** 2, 1)


def _check_dates(resident: Resident, data: dict, day: date) -> None:
    visit_on = data["visit_on"]
    if visit_on > day:
        raise Invalid("visit_on", "cannot be in the future")
    if visit_on < resident.birth_on:
        raise Invalid("visit_on", "cannot be before the resident's birth date")
    if data.get("hba1c_on") is not None and not resident.birth_on <= data["hba1c_on"] <= day:
        raise Invalid("hba1c_on", "must be a past date in the resident's life")
    if data.get("next_visit_on") is not None and data["next_visit_on"] <= visit_on:
        raise Invalid("next_visit_on", "must be after visit_on")


def _classify(diseases: list[str], data: dict) -> tuple[dict, str | None, str]:
    """Per-disease final classification, the computed overall one, and its source."""
    computed = {d: rules.compute_classification(d, data) for d in diseases}
    overall = rules.worst(computed.values())
    given = data.get("classification")
    if given is None:
        for disease in diseases:
            if computed[disease] is None:
                field = "sbp" if disease == "hypertension" else "fasting_glucose"
                raise Invalid(field, f"required to classify the {disease} follow-up (or give classification)")
        return computed, overall, "computed"
    if overall is not None and given != overall:
        if not data.get("classification_reason"):
            raise Invalid("classification_reason",
                          f"required to override the computed classification ({overall})")
        return {d: given for d in diseases}, overall, "doctor"
    complete = all(c is not None for c in computed.values())
    return ({d: computed[d] or given for d in diseases}, overall,
            "computed" if complete else "doctor")


def _previous(resident_id: int, disease: str, visit: FollowupVisit) -> tuple[str | None, bool]:
    """The disease's classification at the visit before ``visit``, and whether a later visit exists."""
    covers = getattr(FollowupVisit, disease).is_(True)
    column = getattr(FollowupVisit, f"{disease}_classification")
    others = and_(FollowupVisit.resident_id == resident_id, covers, FollowupVisit.id != visit.id)
    previous = db.session.scalar(
        select(column).where(others, FollowupVisit.visit_on <= visit.visit_on)
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc()).limit(1))
    later = db.session.scalar(select(FollowupVisit.id).where(others, FollowupVisit.visit_on > visit.visit_on).limit(1))
    return previous, later is not None


def _open_plan(resident_id: int, disease: str) -> FollowupPlan | None:
    return db.session.scalar(select(FollowupPlan).where(
        FollowupPlan.resident_id == resident_id, FollowupPlan.disease == disease, FollowupPlan.status == "open"))


def _tighten(plan: FollowupPlan, outcome: rules.Outcome) -> None:
    """A phone follow-up that needs a recheck brings the face-to-face window forward."""
    if outcome.due_on < plan.due_on:
        plan.due_on = outcome.due_on
        plan.opens_on = min(plan.opens_on, outcome.opens_on)
    if outcome.priority > plan.priority or (outcome.priority == plan.priority and plan.reason in ("routine", "first")):
        plan.priority, plan.reason = outcome.priority, outcome.reason


def _apply_plan(resident_id: int, visit: FollowupVisit, outcome: rules.Outcome, later_visit: bool,
                day: date) -> FollowupPlan | None:
    plan = _open_plan(resident_id, outcome.disease)
    if later_visit:  # a late entry of an older visit: the plans already follow a newer one
        return plan
    if visit.face_to_face:
        if plan is not None:
            plan.status, plan.closed_by_visit_id = "done", visit.id
            plan.closed_on, plan.close_reason = visit.visit_on, "visit"
            db.session.flush()  # free the "one open plan" slot before the next one is inserted
        plan = FollowupPlan(resident_id=resident_id, disease=outcome.disease, opens_on=outcome.opens_on,
                            due_on=outcome.due_on, status="open", reason=outcome.reason,
                            priority=outcome.priority, last_visit_id=visit.id)
        db.session.add(plan)
        return plan
    if plan is None:
        opens_on, due_on = rules.first_window(day)
        plan = FollowupPlan(resident_id=resident_id, disease=outcome.disease, opens_on=opens_on, due_on=due_on,
                            status="open", reason="first", priority=0)
        db.session.add(plan)
    plan.last_visit_id = visit.id
    if outcome.needs_recheck:
        _tighten(plan, outcome)
    return plan


def record_visit(actor, resident: Resident, data: dict) -> dict:
    """POST /followups: store the form, classify, move the plans, count the contract delivery."""
    _lock_resident(resident.id)
    if resident.status != "active":
        raise Conflict(f"this archive is closed ({resident.status})", error="resident_not_active")
    diseases = list(MANAGED_DISEASES) if data["disease"] == "both" else [data["disease"]]
    managed = managed_diseases(resident)
    for disease in diseases:
        if disease not in managed:
            raise Invalid("disease", f"the resident has no active {disease} registration")
    day = today()
    _check_dates(resident, data, day)
    final, computed_overall, source = _classify(diseases, data)
    alerts = rules.emergency_alerts(data.get("sbp"), data.get("dbp"), data.get("fasting_glucose"))
    cfg = rules.window_config()

    fields = {name: data.get(name) for name in _FORM_FIELDS}
    fields["symptoms"] = fields["symptoms"] or []
    fields["complications"] = fields["complications"] or []
    fields["medications"] = fields["medications"] or []
    fields["lifestyle"] = fields["lifestyle"] or {}
    fields["adverse_reaction"] = bool(fields["adverse_reaction"])
    height = data.get("height_cm") or _last_height(resident.id)
    visit = FollowupVisit(
        resident_id=resident.id, hypertension="hypertension" in diseases, t2dm="t2dm" in diseases,
        hypertension_classification=final.get("hypertension"), t2dm_classification=final.get("t2dm"),
        classification=rules.worst(final.values()), computed_classification=computed_overall,
        classification_source=source, height_cm=height, bmi=_bmi(data.get("weight_kg"), height),
        target_bmi=_bmi(data.get("target_weight_kg"), height), alerts=alerts,
        institution_id=actor.institution_id, recorded_by_id=actor.id, **fields)
    db.session.add(visit)
    db.session.flush()

    outcomes = []
    try:
        for disease in diseases:
            previous, later = _previous(resident.id, disease, visit)
            outcome = rules.decide(disease, final[disease], previous, alerts, bool(data.get("referral")),
                                   visit.visit_on, data.get("next_visit_on"), cfg)
            plan = _apply_plan(resident.id, visit, outcome, later, day)
            outcomes.append((outcome, plan))
        db.session.flush()
    except IntegrityError:  # a concurrent visit or job run made the plan first
        db.session.rollback()
        raise Conflict("another follow-up for this patient was recorded at the same time; retry",
                       error="followup_conflict") from None

    visit.referral_suggested = any(o.referral_suggested for o, _ in outcomes)
    visit.urgent_referral = any(o.urgent_referral for o, _ in outcomes)
    dues = [p.due_on for _, p in outcomes if p is not None and p.status == "open"]
    visit.next_due_on = min(dues) if dues else None
    if visit.face_to_face:
        count_delivery(actor, resident.id, visit)
    audit.record(actor, resident.id, action="create", section="followup", purpose="follow_up")
    db.session.flush()
    return {
        "visit": present_visit(visit, *visit_names(visit)),
        "classification": visit.classification,
        "next_due_on": visit.next_due_on,
        "referral_suggested": visit.referral_suggested,
        "urgent_referral": visit.urgent_referral,
        "outcomes": [{"disease": o.disease, "classification": o.classification,
                      "referral_suggested": o.referral_suggested, "urgent_referral": o.urgent_referral,
                      "plan": present_plan(p, day) if p is not None else None} for o, p in outcomes],
    }


def count_delivery(actor, resident_id: int, visit: FollowupVisit) -> None:
    """A face-to-face visit is one delivery of the contract's "chronic_followup" item (履约).

    One delivery per visit, combined visits included: ``record_delivery`` picks the first item of
    that type with something left and cannot be told which disease's package to count.
    Silent when the contracts feature is absent or the resident has no such item.
    """
    try:
        from app.contracts.services import record_delivery
    except ModuleNotFoundError as err:
        if err.name not in ("app.contracts", "app.contracts.services"):
            raise
        return
    label = "、".join({"hypertension": "高血压", "t2dm": "糖尿病"}[d] for d in visit.diseases)
    record_delivery(actor, resident_id, DELIVERY_SERVICE_TYPE, visit.visit_on, source="followup_visit",
                    source_id=visit.id, note=f"{label}随访（{'门诊' if visit.method == 'clinic' else '家庭'}）")


# --- presenting ------------------------------------------------------------------------------

_VISIT_FIELDS = (
    "id", "resident_id", "visit_on", "method", "classification", "hypertension_classification",
    "t2dm_classification", "computed_classification", "classification_source", "classification_reason",
    "symptoms", "symptoms_other", "sbp", "dbp", "heart_rate", "weight_kg", "target_weight_kg", "height_cm", "bmi",
    "target_bmi", "dorsalis_pedis", "lifestyle", "psychological_adjustment", "compliance", "fasting_glucose",
    "hba1c", "hba1c_on", "adherence", "adverse_reaction", "adverse_reaction_text", "hypoglycaemia",
    "complications", "medications", "insulin", "referral", "next_visit_on", "note", "alerts",
    "referral_suggested", "urgent_referral", "next_due_on", "created_at",
)


def visit_names(visit: FollowupVisit) -> tuple[str | None, str | None]:
    from app.accounts.models import Staff
    from app.orgs.models import Institution

    institution = db.session.scalar(select(Institution.name).where(Institution.id == visit.institution_id))
    doctor = db.session.scalar(select(Staff.name).where(Staff.id == visit.recorded_by_id))
    return institution, doctor


def present_visit(visit: FollowupVisit, institution_name: str | None, doctor: str | None) -> dict:
    body = {name: getattr(visit, name) for name in _VISIT_FIELDS}
    body["face_to_face"] = visit.face_to_face
    body["diseases"] = visit.diseases
    body["institution"] = {"id": visit.institution_id, "name": institution_name} if visit.institution_id else None
    body["doctor"] = doctor
    return body


def window_of(opens_on: date, due_on: date, day: date) -> str:
    if due_on < day:
        return "overdue"
    return "due" if opens_on <= day else "upcoming"


def present_plan(plan: FollowupPlan, day: date) -> dict:
    is_open = plan.status == "open"
    return {"id": plan.id, "disease": plan.disease, "opens_on": plan.opens_on, "due_on": plan.due_on,
            "status": plan.status, "window": window_of(plan.opens_on, plan.due_on, day) if is_open else None,
            "overdue_days": max(0, (day - plan.due_on).days) if is_open else 0,
            "reason": plan.reason, "priority": plan.priority, "closed_on": plan.closed_on,
            "close_reason": plan.close_reason}


# --- the doctor's worklist -------------------------------------------------------------------

def _worklist_teams(actor, team_id: int | None) -> list[int]:
    if team_id is not None:
        return [get_managed_team(actor, team_id).id]
    if not actor.team_ids:
        raise Invalid("team_id", "required: you are not a member of any team")
    return list(actor.team_ids)


def worklist(actor, args: dict) -> dict:
    """GET /followups/worklist: one query (the page and the total), most urgent first.

    Order: priority (urgent referral, then referral pending), then the earliest due date (the most
    overdue first), then the plan id. Only patients still managed; only the requested teams.
    The page is cut in a subquery (plans ⋈ residents, ``count(*) over ()`` for the total) and only
    its rows are joined to their last visit, so the visits table is touched by primary key ≤ per_page
    times whatever the team's size.
    """
    day = today()
    team_ids = _worklist_teams(actor, args.get("team_id"))
    status = args.get("status", "all")
    within = args.get("within_days")
    horizon = day + timedelta(days=within or 0)
    order = (FollowupPlan.priority.desc(), FollowupPlan.due_on, FollowupPlan.id)
    plans = (
        select(FollowupPlan.id, FollowupPlan.disease, FollowupPlan.opens_on, FollowupPlan.due_on,
               FollowupPlan.reason, FollowupPlan.priority, FollowupPlan.last_visit_id,
               Resident.id.label("resident_id"), Resident.name, Resident.archive_no, Resident.sex,
               Resident.birth_on, Resident.phone, Resident.team_id,
               func.count().over().label("total"),
               func.row_number().over(order_by=order).label("position"))
        .select_from(FollowupPlan)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(FollowupPlan.status == "open", Resident.team_id.in_(team_ids), managed_plan_clause(),
               resident_clause(actor)))
    if status == "overdue":
        plans = plans.where(FollowupPlan.due_on < day)
    elif status == "due":
        plans = plans.where(FollowupPlan.due_on >= day, FollowupPlan.opens_on <= horizon)
    elif within is not None:
        plans = plans.where(FollowupPlan.opens_on <= horizon)
    if args.get("disease"):
        plans = plans.where(FollowupPlan.disease == args["disease"])
    if args.get("doctor") == "me":
        plans = plans.where(_responsible_doctor_clause(actor.id, day))
    page, per_page = args["page"], args["per_page"]
    page_rows = plans.order_by(*order).limit(per_page).offset((page - 1) * per_page).subquery("page")
    visit = FollowupVisit
    per_disease = case((page_rows.c.disease == "hypertension", visit.hypertension_classification),
                       else_=visit.t2dm_classification)
    stmt = (select(page_rows, visit.id.label("visit_id"), visit.visit_on, visit.method, visit.sbp, visit.dbp,
                   visit.fasting_glucose, per_disease.label("visit_classification"), visit.referral_suggested,
                   visit.urgent_referral)
            .select_from(page_rows.outerjoin(visit, visit.id == page_rows.c.last_visit_id))
            .order_by(page_rows.c.position))
    rows = db.session.execute(stmt).all()
    if rows:
        total = rows[0].total
    else:  # past the last page: the window count had no row to ride on
        total = db.session.scalar(select(func.count()).select_from(plans.order_by(None).subquery()))
    items = [_worklist_item(row, day) for row in rows]
    audit.record_many(actor, list(dict.fromkeys(row.resident_id for row in rows)), action="read",
                      section="followup_worklist", purpose="follow_up")
    body = page_body(items, page, per_page, total)
    body.update(today=day, team_ids=team_ids)
    return body


def _responsible_doctor_clause(staff_id: int, day: date):
    from app.contracts.models import Contract
    from app.contracts.services import in_force_clause

    return exists(select(Contract.id).where(Contract.resident_id == Resident.id, Contract.doctor_id == staff_id,
                                            in_force_clause(day)))


def _worklist_item(row, day: date) -> dict:
    last = None
    if row.visit_id is not None:
        last = {"id": row.visit_id, "visit_on": row.visit_on, "method": row.method, "sbp": row.sbp, "dbp": row.dbp,
                "fasting_glucose": row.fasting_glucose, "classification": row.visit_classification,
                "referral_suggested": bool(row.referral_suggested), "urgent_referral": bool(row.urgent_referral)}
    return {
        "plan_id": row.id, "disease": row.disease, "opens_on": row.opens_on, "due_on": row.due_on,
        "overdue_days": max(0, (day - row.due_on).days), "window": window_of(row.opens_on, row.due_on, day),
        "reason": row.reason, "priority": row.priority, "last_visit": last,
        "resident": {"id": row.resident_id, "name": row.name, "archive_no": row.archive_no, "sex": row.sex,
                     "age": age_on(row.birth_on, day), "phone": mask_phone(row.phone), "team_id": row.team_id},
    }


# --- the resident's side ---------------------------------------------------------------------

def _visits_with_names(resident_id: int):
    from app.accounts.models import Staff
    from app.orgs.models import Institution

    return (select(FollowupVisit, Institution.name.label("institution_name"), Staff.name.label("doctor"))
            .outerjoin(Institution, Institution.id == FollowupVisit.institution_id)
            .outerjoin(Staff, Staff.id == FollowupVisit.recorded_by_id)
            .where(FollowupVisit.resident_id == resident_id)
            .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc()))


def open_plans(resident: Resident) -> list[FollowupPlan]:
    """The resident's open plans, for the diseases still managed (earliest due first)."""
    managed = managed_diseases(resident)
    if not managed:
        return []
    return list(db.session.scalars(
        select(FollowupPlan).where(FollowupPlan.resident_id == resident.id, FollowupPlan.status == "open",
                                   FollowupPlan.disease.in_(managed))
        .order_by(FollowupPlan.due_on, FollowupPlan.id)))


_TREND_FIELDS = ("visit_on", "method", "sbp", "dbp", "fasting_glucose", "hba1c", "weight_kg", "classification")


def trend(resident_id: int, limit: int) -> list[dict]:
    """BP and glucose over the last ``limit`` visits, oldest first."""
    rows = db.session.execute(
        select(*(getattr(FollowupVisit, name) for name in _TREND_FIELDS))
        .where(FollowupVisit.resident_id == resident_id)
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in reversed(rows)]


def _visit_counts(year: int) -> dict:
    """Aggregates over one resident's visits: how many, and each disease's face-to-face visits in ``year``."""
    in_year = and_(FollowupVisit.method.in_(FACE_TO_FACE), FollowupVisit.visit_on >= date(year, 1, 1),
                   FollowupVisit.visit_on <= date(year, 12, 31))
    counts = {"total": func.count()}
    for disease in MANAGED_DISEASES:
        counts[disease] = func.count(case((and_(in_year, getattr(FollowupVisit, disease).is_(True)), 1)))
    return counts


def _visit_count_row(resident_id: int, year: int):
    """The same aggregates as plain ones, for a page past the end (no row to carry them)."""
    return db.session.execute(select(*(c.label(k) for k, c in _visit_counts(year).items()))
                              .where(FollowupVisit.resident_id == resident_id)).one()._mapping


def resident_followups(resident: Resident, page: int = 1, per_page: int = 20, trend_visits: int = 8) -> dict:
    """Visits (paginated), the open plan(s) and the BP / glucose trend of one resident.

    Two queries for the first page whatever the history (the archive reads it on every open): the
    open plans, and the page of visits carrying the total and this year's face-to-face counts as
    window aggregates; the trend is cut from that page when the page holds it. A later page adds the
    trend's query, and a page past the end, with no row to carry the counts, one counting query.
    """
    day = today()
    plans = [present_plan(p, day) for p in open_plans(resident)]
    counts = _visit_counts(day.year)
    stmt = _visits_with_names(resident.id).add_columns(*(c.over().label(f"n_{k}") for k, c in counts.items()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = rows[0].n_total
        face_to_face = {disease: rows[0]._mapping[f"n_{disease}"] for disease in MANAGED_DISEASES}
    elif page == 1:  # no visits at all
        total, face_to_face = 0, dict.fromkeys(MANAGED_DISEASES, 0)
    else:
        row = _visit_count_row(resident.id, day.year)
        total, face_to_face = row["total"], {disease: row[disease] for disease in MANAGED_DISEASES}
    if page == 1 and (len(rows) >= trend_visits or len(rows) == total):
        points = [{name: getattr(row[0], name) for name in _TREND_FIELDS} for row in reversed(rows[:trend_visits])]
    else:
        points = trend(resident.id, trend_visits)
    visits = [present_visit(row[0], row.institution_name, row.doctor) for row in rows]
    return {"resident_id": resident.id, "managed_diseases": managed_diseases(resident),
            "open_plan": plans[0] if plans else None, "open_plans": plans,
            "visits": page_body(visits, page, per_page, total), "trend": points,
            "face_to_face_this_year": face_to_face}


def read_resident_followups(actor, resident: Resident, args: dict) -> dict:
    body = resident_followups(resident, args["page"], args["per_page"], args["trend_visits"])
    record_read(actor, resident.id)
    return body


def record_read(actor, resident_id: int) -> None:
    """The access-log row of a follow-up read (family readers named as the archive does)."""
    purpose = "follow_up" if actor.is_staff else None
    try:
        from app.archive.services import record_access
    except ModuleNotFoundError:
        audit.record(actor, resident_id, action="read", section="followups", purpose=purpose)
        return
    record_access(actor, resident_id, action="read", section="followups", purpose=purpose)


def get_visit(actor, visit_id: int) -> FollowupVisit:
    """One visit, if the caller may see its resident (else 404)."""
    from app.errors import NotFound

    visit = db.session.scalar(
        select(FollowupVisit).join(Resident, Resident.id == FollowupVisit.resident_id)
        .where(FollowupVisit.id == visit_id, resident_clause(actor)))
    if visit is None:
        raise NotFound("follow-up not found")
    return visit


# --- hooks other features call -----------------------------------------------------------------

def archive_section(resident: Resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's "followups" (the archive writes the access-log row).

    Serialised here (the archive's field is raw JSON) with the same schema as GET …/followups."""
    return "followups", _archive_schema().dump(resident_followups(resident, 1, args.get("per_page") or 10))


@functools.cache
def _archive_schema():
    """One schema instance for every archive read: building one (nested fields included) per read cost
    more CPU than dumping with it."""
    from app.followups.schemas import ResidentFollowupsOut

    return ResidentFollowupsOut()


def activity_source(since: date, until: date):
    """archive.metrics.ACTIVITY_SOURCES hook: a follow-up visit is archive activity."""
    return select(FollowupVisit.resident_id.label("resident_id")).where(
        FollowupVisit.visit_on >= since, FollowupVisit.visit_on <= until)
