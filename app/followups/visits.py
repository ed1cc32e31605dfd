"""Recording a follow-up visit (随访服务记录表) and reading one back.

Recording stores the form, classifies it (``app.followups.rules``), moves the disease plans
(``app.followups.plans``) and announces what happened: a face-to-face visit is a service
delivered (``events.service_delivered``, which the contracts count against the resident's
contract), and every visit is ``events.visit_recorded``. Who listens is wired in ``app.wiring``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from app.access.scope import resident_clause
from app.accounts.models import Staff
from app.archive.models import HealthCheck
from app.audit import services as audit
from app.common import events
from app.common.measures import bmi
from app.common.time import today
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.followups import rules
from app.followups.models import MANAGED_DISEASES, FollowupVisit, diseases_of, is_face_to_face
from app.followups.plans import apply_plan, managed_diseases, present_plan
from app.orgs.models import Institution
from app.residents.models import Resident

DELIVERY_SERVICE_TYPE = "chronic_followup"
_FORM_FIELDS = (
    "visit_on",
    "method",
    "symptoms",
    "symptoms_other",
    "sbp",
    "dbp",
    "heart_rate",
    "weight_kg",
    "target_weight_kg",
    "dorsalis_pedis",
    "lifestyle",
    "psychological_adjustment",
    "compliance",
    "fasting_glucose",
    "hba1c",
    "hba1c_on",
    "adherence",
    "adverse_reaction",
    "adverse_reaction_text",
    "hypoglycaemia",
    "complications",
    "medications",
    "insulin",
    "referral",
    "next_visit_on",
    "note",
    "classification_reason",
)


def _lock_resident(resident_id: int) -> None:
    """Serialise follow-up writes for one patient (PostgreSQL row lock; SQLite has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())


def _last_height(resident_id: int) -> float | None:
    height = db.session.scalar(
        select(FollowupVisit.height_cm)
        .where(FollowupVisit.resident_id == resident_id, FollowupVisit.height_cm.is_not(None))
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc())
        .limit(1)
    )
    if height is not None:
        return height
    return db.session.scalar(
        select(HealthCheck.height_cm)
        .where(HealthCheck.resident_id == resident_id, HealthCheck.height_cm.is_not(None))
        .order_by(HealthCheck.checked_on.desc(), HealthCheck.id.desc())
        .limit(1)
    )


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
            raise Invalid("classification_reason", f"required to override the computed classification ({overall})")
        return {d: given for d in diseases}, overall, "doctor"
    complete = all(c is not None for c in computed.values())
    return ({d: computed[d] or given for d in diseases}, overall, "computed" if complete else "doctor")


def _previous(resident_id: int, disease: str, visit: FollowupVisit) -> tuple[str | None, bool]:
    """The disease's classification at the visit before ``visit``, and whether a later visit exists."""
    covers = getattr(FollowupVisit, disease).is_(True)
    column = getattr(FollowupVisit, f"{disease}_classification")
    others = and_(FollowupVisit.resident_id == resident_id, covers, FollowupVisit.id != visit.id)
    previous = db.session.scalar(
        select(column)
        .where(others, FollowupVisit.visit_on <= visit.visit_on)
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc())
        .limit(1)
    )
    later = db.session.scalar(select(FollowupVisit.id).where(others, FollowupVisit.visit_on > visit.visit_on).limit(1))
    return previous, later is not None


def record_visit(actor, resident: Resident, data: dict) -> dict:
    """POST /followups: store the form, classify, move the plans, announce the visit (and delivery)."""
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
        resident_id=resident.id,
        hypertension="hypertension" in diseases,
        t2dm="t2dm" in diseases,
        hypertension_classification=final.get("hypertension"),
        t2dm_classification=final.get("t2dm"),
        classification=rules.worst(final.values()),
        computed_classification=computed_overall,
        classification_source=source,
        height_cm=height,
        bmi=bmi(data.get("weight_kg"), height),
        target_bmi=bmi(data.get("target_weight_kg"), height),
        alerts=alerts,
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
        **fields,
    )
    db.session.add(visit)
    db.session.flush()

    outcomes = []
    try:
        for disease in diseases:
            previous, later = _previous(resident.id, disease, visit)
            outcome = rules.decide(
                disease,
                final[disease],
                previous,
                alerts,
                bool(data.get("referral")),
                visit.visit_on,
                data.get("next_visit_on"),
                cfg,
            )
            plan = apply_plan(resident.id, visit, outcome, later, day)
            outcomes.append((outcome, plan))
        db.session.flush()
    except IntegrityError:  # a concurrent visit or job run made the plan first
        db.session.rollback()
        raise Conflict(
            "another follow-up for this patient was recorded at the same time; retry", error="followup_conflict"
        ) from None

    visit.referral_suggested = any(o.referral_suggested for o, _ in outcomes)
    visit.urgent_referral = any(o.urgent_referral for o, _ in outcomes)
    dues = [p.due_on for _, p in outcomes if p is not None and p.status == "open"]
    visit.next_due_on = min(dues) if dues else None
    _announce(actor, visit)
    audit.record(actor, resident.id, action="create", section="followup", purpose="follow_up")
    db.session.flush()
    return {
        "visit": present_visit(visit, *visit_names(visit)),
        "classification": visit.classification,
        "next_due_on": visit.next_due_on,
        "referral_suggested": visit.referral_suggested,
        "urgent_referral": visit.urgent_referral,
        "referral_offer": _referral_offer(visit, data.get("referral")),
        "outcomes": [
            {
                "disease": o.disease,
                "classification": o.classification,
                "referral_suggested": o.referral_suggested,
                "urgent_referral": o.urgent_referral,
                "plan": present_plan(p, day) if p is not None else None,
            }
            for o, p in outcomes
        ],
    }


def _referral_offer(visit: FollowupVisit, entered: dict | None) -> dict | None:
    """When the rules suggest referral: the body of ``POST /referrals``, pre-filled from the visit (the
    doctor confirms or edits it; nothing is issued by the visit itself)."""
    if not visit.referral_suggested:
        return None
    entered = entered or {}
    if entered.get("reason"):
        reason = entered["reason"]
    elif visit.alerts:
        reason = "随访危急值：" + "、".join(visit.alerts)
    else:
        reason = "连续两次随访控制不满意"
    offer = {
        "resident_id": visit.resident_id,
        "direction": "up",
        "to_hospital_name": entered.get("institution"),
        "reason": reason,
        "urgency": "urgent" if visit.urgent_referral else "routine",
        "source_visit_id": visit.id,
    }
    return {k: v for k, v in offer.items() if v is not None}  # posted back as it is


def delivery_note(visit) -> str:
    """The contract delivery's note for a face-to-face visit (an object or a row): 高血压随访（门诊）."""
    label = "、".join({"hypertension": "高血压", "t2dm": "糖尿病"}[d] for d in diseases_of(visit))
    return f"{label}随访（{'门诊' if visit.method == 'clinic' else '家庭'}）"


def _announce(actor, visit: FollowupVisit) -> None:
    """Tell whoever listens: a face-to-face visit is one delivery of the contract's "chronic_followup"
    item (履约), and every visit is a visit recorded (e.g. completing the appointment it was booked as).

    One delivery per visit, combined visits included: the contract counts the first item of that
    type with something left and cannot be told which disease's package it was. ``note`` is the
    delivery's note in the contract's record.
    """
    if visit.face_to_face:
        events.service_delivered.send(
            None,
            actor=actor,
            resident_id=visit.resident_id,
            service_type=DELIVERY_SERVICE_TYPE,
            served_on=visit.visit_on,
            source="followup",
            source_id=visit.id,
            note=delivery_note(visit),
        )
    events.visit_recorded.send(
        None, actor=actor, resident_id=visit.resident_id, visited_on=visit.visit_on, visit_id=visit.id
    )


# --- presenting ------------------------------------------------------------------------------

_VISIT_FIELDS = (
    "id",
    "resident_id",
    "visit_on",
    "method",
    "classification",
    "hypertension_classification",
    "t2dm_classification",
    "computed_classification",
    "classification_source",
    "classification_reason",
    "symptoms",
    "symptoms_other",
    "sbp",
    "dbp",
    "heart_rate",
    "weight_kg",
    "target_weight_kg",
    "height_cm",
    "bmi",
    "target_bmi",
    "dorsalis_pedis",
    "lifestyle",
    "psychological_adjustment",
    "compliance",
    "fasting_glucose",
    "hba1c",
    "hba1c_on",
    "adherence",
    "adverse_reaction",
    "adverse_reaction_text",
    "hypoglycaemia",
    "complications",
    "medications",
    "insulin",
    "referral",
    "next_visit_on",
    "note",
    "alerts",
    "referral_suggested",
    "urgent_referral",
    "next_due_on",
    "created_at",
)


def visit_names(visit: FollowupVisit) -> tuple[str | None, str | None]:
    institution = db.session.scalar(select(Institution.name).where(Institution.id == visit.institution_id))
    doctor = db.session.scalar(select(Staff.name).where(Staff.id == visit.recorded_by_id))
    return institution, doctor


def present_visit(visit, institution_name: str | None, doctor: str | None) -> dict:
    body = {name: getattr(visit, name) for name in _VISIT_FIELDS}
    body["face_to_face"] = is_face_to_face(visit.method)
    body["diseases"] = diseases_of(visit)
    body["institution"] = {"id": visit.institution_id, "name": institution_name} if visit.institution_id else None
    body["doctor"] = doctor
    return body


def get_visit(actor, visit_id: int) -> FollowupVisit:
    """One visit, if the caller may see its resident (else 404)."""
    visit = db.session.scalar(
        select(FollowupVisit)
        .join(Resident, Resident.id == FollowupVisit.resident_id)
        .where(FollowupVisit.id == visit_id, resident_clause(actor))
    )
    if visit is None:
        raise NotFound("follow-up not found")
    return visit
