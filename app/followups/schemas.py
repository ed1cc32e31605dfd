"""Input and output shapes of the follow-up feature.

Ranges are the plausible physiological ones (SBP 60–300, DBP 30–200 and below SBP, heart rate
20–250, fasting glucose 1.0–35.0 mmol/L, HbA1c 3–20 %, weight 20–300 kg, height 100–250 cm): a BP
of 400/20 is a 422 naming the field, never a record.
"""

import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.schemas import Out, Strict
from app.common.schemas import bounded_float as _num
from app.common.schemas import bounded_int as _int
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text
from app.followups.contact_schemas import LastContactOut
from app.followups.models import CLASSIFICATIONS, LISTED_PROGRAMMES, MANAGED_DISEASES, METHODS

_list = ma.fields.List
R = ma.validate.Range

DISEASE_CHOICES = (*MANAGED_DISEASES, "both")
HTN_SYMPTOMS = (
    "none",
    "headache_dizziness",
    "nausea_vomiting",
    "blurred_vision_tinnitus",
    "dyspnoea",
    "palpitation_chest_tightness",
    "nosebleed",
    "limb_numbness",
    "lower_limb_oedema",
)
T2DM_SYMPTOMS = (
    "polydipsia",
    "polyphagia",
    "polyuria",
    "blurred_vision",
    "infection",
    "hand_foot_numbness",
    "weight_loss",
)
SYMPTOMS = HTN_SYMPTOMS + T2DM_SYMPTOMS + ("other",)
LEVELS = ("good", "fair", "poor")  # 良好 / 一般 / 差


class FollowupLifestyleValuesIn(Strict):
    cigarettes_per_day = _int(0, 100)
    alcohol_per_day = _num(0, 50, metadata={"description": "liang (两) per day"})
    exercise_times_per_week = _int(0, 21)
    exercise_minutes = _int(0, 600, metadata={"description": "minutes per session"})
    salt_intake = _choice(
        ("light", "moderate", "heavy"), allow_none=True, metadata={"description": "hypertension form: 轻/中/重"}
    )
    staple_food_g = _int(0, 2000, metadata={"description": "T2DM form: grams of staple food per day"})


class FollowupLifestyleIn(Strict):
    now = ma.fields.Nested(FollowupLifestyleValuesIn)
    target = ma.fields.Nested(FollowupLifestyleValuesIn)


class FollowupMedicationIn(Strict):
    name = _text(60, required=True)
    frequency = _text(40)
    dose = _text(40)


class FollowupInsulinIn(Strict):
    type = _text(60, required=True)
    dose = _text(60)


class FollowupReferralIn(Strict):
    reason = _text(200, required=True)
    institution = _text(100)
    department = _text(60)


class FollowupCreateIn(Strict):
    resident_id = ma.fields.Integer(required=True)
    disease = _choice(
        DISEASE_CHOICES,
        required=True,
        metadata={
            "description": "which parts of the form were filled in; 'both' for a combined hypertension + T2DM visit"
        },
    )
    visit_on = ma.fields.Date(required=True)
    method = _choice(METHODS, required=True, metadata={"description": "clinic | home (face to face) | phone"})
    symptoms = _list(_choice(SYMPTOMS), validate=ma.validate.Length(max=len(SYMPTOMS)))
    symptoms_other = _text(200, allow_none=True)
    sbp = _int(60, 300, metadata={"description": "systolic BP, mmHg"})
    dbp = _int(30, 200, metadata={"description": "diastolic BP, mmHg"})
    heart_rate = _int(20, 250)
    weight_kg = _num(20, 300)
    target_weight_kg = _num(20, 300)
    height_cm = _num(100, 250, metadata={"description": "for BMI; the last known height is used when absent"})
    dorsalis_pedis = _choice(("normal", "weakened", "absent"), allow_none=True)
    lifestyle = ma.fields.Nested(FollowupLifestyleIn)
    psychological_adjustment = _choice(LEVELS, allow_none=True)
    compliance = _choice(LEVELS, allow_none=True)
    fasting_glucose = _num(1.0, 35.0, metadata={"description": "mmol/L"})
    hba1c = _num(3, 20, metadata={"description": "%"})
    hba1c_on = ma.fields.Date(allow_none=True)
    adherence = _choice(("regular", "intermittent", "none"), allow_none=True)
    adverse_reaction = ma.fields.Boolean(load_default=False)
    adverse_reaction_text = _text(200, allow_none=True)
    hypoglycaemia = _choice(("none", "occasional", "frequent"), allow_none=True)
    complications = _list(
        _text(100),
        validate=ma.validate.Length(max=10),
        metadata={"description": "new or worsening complications (并发症)"},
    )
    classification = _choice(
        CLASSIFICATIONS,
        allow_none=True,
        metadata={
            "description": "leave out to have it computed; a different value overrides and needs classification_reason"
        },
    )
    classification_reason = _text(300, allow_none=True)
    medications = _list(ma.fields.Nested(FollowupMedicationIn), validate=ma.validate.Length(max=20))
    insulin = ma.fields.Nested(FollowupInsulinIn, allow_none=True)
    referral = ma.fields.Nested(FollowupReferralIn, allow_none=True)
    next_visit_on = ma.fields.Date(
        allow_none=True,
        metadata={"description": "the doctor's next date; may bring the due date forward, never past the rule"},
    )
    note = _text(2000, allow_none=True)

    @ma.validates_schema
    def _pairs(self, data, **kwargs):
        sbp, dbp = data.get("sbp"), data.get("dbp")
        if (sbp is None) != (dbp is None):
            raise ma.ValidationError("give systolic and diastolic together", "dbp" if dbp is None else "sbp")
        if sbp is not None and dbp >= sbp:
            raise ma.ValidationError("diastolic must be lower than systolic", "dbp")
        if data.get("adverse_reaction_text") and not data.get("adverse_reaction"):
            raise ma.ValidationError("set adverse_reaction to true to describe one", "adverse_reaction")


# --- output -------------------------------------------------------------------------


class FollowupPlanOut(Out):
    id = ma.fields.Integer()
    disease = ma.fields.String()
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    status = ma.fields.String(metadata={"description": "open | done | closed"})
    window = ma.fields.String(metadata={"description": "upcoming | due | overdue (open plans)"})
    overdue_days = ma.fields.Integer()
    reason = ma.fields.String(metadata={"description": "first | routine | recheck | referral | urgent"})
    priority = ma.fields.Integer(metadata={"description": "2 urgent referral, 1 referral pending, 0 otherwise"})
    closed_on = ma.fields.Date(allow_none=True)
    close_reason = ma.fields.String(allow_none=True)


class FollowupVisitOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    visit_on = ma.fields.Date()
    method = ma.fields.String()
    face_to_face = ma.fields.Boolean()
    diseases = _list(ma.fields.String())
    classification = ma.fields.String()
    hypertension_classification = ma.fields.String(allow_none=True)
    t2dm_classification = ma.fields.String(allow_none=True)
    computed_classification = ma.fields.String(allow_none=True)
    classification_source = ma.fields.String()
    classification_reason = ma.fields.String(allow_none=True)
    symptoms = _list(ma.fields.String())
    symptoms_other = ma.fields.String(allow_none=True)
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    heart_rate = ma.fields.Integer(allow_none=True)
    weight_kg = ma.fields.Float(allow_none=True)
    target_weight_kg = ma.fields.Float(allow_none=True)
    height_cm = ma.fields.Float(allow_none=True)
    bmi = ma.fields.Float(allow_none=True)
    target_bmi = ma.fields.Float(allow_none=True)
    dorsalis_pedis = ma.fields.String(allow_none=True)
    lifestyle = ma.fields.Dict()
    psychological_adjustment = ma.fields.String(allow_none=True)
    compliance = ma.fields.String(allow_none=True)
    fasting_glucose = ma.fields.Float(allow_none=True)
    hba1c = ma.fields.Float(allow_none=True)
    hba1c_on = ma.fields.Date(allow_none=True)
    adherence = ma.fields.String(allow_none=True)
    adverse_reaction = ma.fields.Boolean()
    adverse_reaction_text = ma.fields.String(allow_none=True)
    hypoglycaemia = ma.fields.String(allow_none=True)
    complications = _list(ma.fields.String())
    medications = _list(ma.fields.Dict())
    insulin = ma.fields.Dict(allow_none=True)
    referral = ma.fields.Dict(allow_none=True)
    next_visit_on = ma.fields.Date(allow_none=True)
    note = ma.fields.String(allow_none=True)
    alerts = _list(ma.fields.String())
    referral_suggested = ma.fields.Boolean()
    urgent_referral = ma.fields.Boolean()
    next_due_on = ma.fields.Date(allow_none=True)
    institution = ma.fields.Dict(allow_none=True)
    doctor = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class FollowupOutcomeOut(Out):
    disease = ma.fields.String()
    classification = ma.fields.String()
    referral_suggested = ma.fields.Boolean()
    urgent_referral = ma.fields.Boolean()
    plan = ma.fields.Nested(FollowupPlanOut, allow_none=True)


class FollowupCreatedOut(Out):
    visit = ma.fields.Nested(FollowupVisitOut)
    classification = ma.fields.String()
    next_due_on = ma.fields.Date(allow_none=True)
    referral_suggested = ma.fields.Boolean()
    urgent_referral = ma.fields.Boolean()
    referral_offer = ma.fields.Nested(
        "ReferralOfferOut",
        allow_none=True,
        metadata={"description": "when referral is suggested: the body of POST /referrals, pre-filled from the visit"},
    )
    outcomes = _list(ma.fields.Nested(FollowupOutcomeOut), metadata={"description": "per disease covered"})


class ReferralOfferOut(Out):
    resident_id = ma.fields.Integer()
    direction = ma.fields.String()
    to_hospital_name = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    urgency = ma.fields.String(metadata={"description": "urgent for the emergency thresholds"})
    source_visit_id = ma.fields.Integer()


class TeamWorklistArgs(PageArgs):
    """What both worklists take: whose, which windows."""

    team_id = ma.fields.Integer(metadata={"description": "default: the caller's own team(s)"})
    status = _choice(
        ("due", "overdue", "all"),
        load_default="all",
        metadata={
            "description": "due: window open (or opening within within_days), not overdue; overdue: due_on < today; "
            "all: every open plan"
        },
    )
    within_days = ma.fields.Integer(
        validate=R(min=0, max=366), metadata={"description": "also list windows opening within this many days"}
    )


class WorklistArgs(TeamWorklistArgs):
    disease = _choice(MANAGED_DISEASES)
    doctor = _choice(
        ("me",),
        metadata={"description": "only patients whose contract in force names the caller as responsible doctor"},
    )


class FollowupWorklistResidentOut(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()
    archive_no = ma.fields.String()
    sex = ma.fields.String()
    age = ma.fields.Integer()
    phone = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)


class FollowupLastVisitOut(Out):
    id = ma.fields.Integer()
    visit_on = ma.fields.Date()
    method = ma.fields.String()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    fasting_glucose = ma.fields.Float(allow_none=True)
    classification = ma.fields.String(allow_none=True)
    referral_suggested = ma.fields.Boolean()
    urgent_referral = ma.fields.Boolean()


class WorklistItemOut(Out):
    plan_id = ma.fields.Integer()
    resident = ma.fields.Nested(FollowupWorklistResidentOut)
    disease = ma.fields.String()
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    overdue_days = ma.fields.Integer()
    window = ma.fields.String(metadata={"description": "upcoming | due | overdue"})
    reason = ma.fields.String()
    priority = ma.fields.Integer()
    last_visit = ma.fields.Nested(FollowupLastVisitOut, allow_none=True)


class WorklistPage(Out):
    items = _list(ma.fields.Nested(WorklistItemOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    today = ma.fields.Date()
    team_ids = _list(ma.fields.Integer())


class ProgrammeWorklistArgs(TeamWorklistArgs):
    programme = _choice(LISTED_PROGRAMMES, metadata={"description": "only this programme's plans"})


class ProgrammeWorklistItemOut(Out):
    plan_id = ma.fields.Integer()
    programme = ma.fields.String(metadata={"description": "one of " + ", ".join(LISTED_PROGRAMMES)})
    kind = ma.fields.String(
        metadata={
            "description": "what is due: followup | health_check | tcm, the child check (newborn_visit, month_3 …) "
            "or the pregnancy's visit (first, w16_20 …, home_visit, day42_check)"
        }
    )
    resident = ma.fields.Nested(FollowupWorklistResidentOut)
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    overdue_days = ma.fields.Integer()
    window = ma.fields.String(metadata={"description": "upcoming | due | overdue"})
    reason = ma.fields.String(
        metadata={"description": "first (never seen or checked) | routine | recheck | referral | urgent"}
    )
    priority = ma.fields.Integer(metadata={"description": "2 urgent referral, 1 referral pending, 0 otherwise"})
    last_contact = ma.fields.Nested(
        LastContactOut, allow_none=True, metadata={"description": "the entry's latest contact attempt"}
    )


class ProgrammeWorklistPage(Out):
    items = _list(ma.fields.Nested(ProgrammeWorklistItemOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    today = ma.fields.Date()
    team_ids = _list(ma.fields.Integer())


class ResidentFollowupsArgs(PageArgs):
    trend_visits = ma.fields.Integer(load_default=8, validate=R(min=1, max=50))


class FollowupTrendPointOut(Out):
    visit_on = ma.fields.Date()
    method = ma.fields.String()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    fasting_glucose = ma.fields.Float(allow_none=True)
    hba1c = ma.fields.Float(allow_none=True)
    weight_kg = ma.fields.Float(allow_none=True)
    classification = ma.fields.String()


class FollowupVisitPage(Out):
    items = _list(ma.fields.Nested(FollowupVisitOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class ResidentFollowupsOut(Out):
    resident_id = ma.fields.Integer()
    managed_diseases = _list(ma.fields.String())
    open_plan = ma.fields.Nested(
        FollowupPlanOut, allow_none=True, metadata={"description": "the earliest-due open plan"}
    )
    open_plans = _list(ma.fields.Nested(FollowupPlanOut))
    visits = ma.fields.Nested(FollowupVisitPage)
    trend = _list(ma.fields.Nested(FollowupTrendPointOut), metadata={"description": "oldest first"})
    face_to_face_this_year = ma.fields.Dict(metadata={"description": "disease → face-to-face visits this year"})


class FollowupIndicatorArgs(Strict):
    year = ma.fields.Integer(validate=R(min=2000, max=2100))
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer()


class FollowupIndicatorOut(Out):
    institution_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    indicator = ma.fields.String()
    label = ma.fields.String()
    disease = ma.fields.String()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer(allow_none=True)
    rate = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    met = ma.fields.Boolean(allow_none=True)
