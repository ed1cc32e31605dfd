"""Input and output shapes of the archive. Input schemas reject unknown fields; ranges are
the plausible physiological ones, so a typo (BP 1300, weight 700 kg) is a 422 naming the field."""

import marshmallow as ma
from webargs.fields import DelimitedList

from app.archive.models import SERVICE_KINDS
from app.audit.services import PURPOSES
from app.common.pagination import MAX_PER_PAGE, PageArgs
from app.common.schemas import Out, Strict, evaluation_day
from app.common.schemas import bounded_float as _num
from app.common.schemas import bounded_int as _int
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text
from app.residents.models import DISEASES
from app.residents.schemas import ResidentOut

_list = ma.fields.List
R = ma.validate.Range


def _strings(max_items, max_len=200, options=None, **kw):
    inner = _choice(options) if options else _text(max_len)
    return _list(inner, validate=ma.validate.Length(max=max_items), **kw)


# --- input -------------------------------------------------------------------------------


class BloodPressureIn(Strict):
    """A blood pressure: both numbers or neither, the diastolic below the systolic."""

    sbp = _int(40, 300, metadata={"description": "systolic BP, mmHg"})
    dbp = _int(20, 200, metadata={"description": "diastolic BP, mmHg"})

    @ma.validates_schema
    def _bp_pair(self, data, **kwargs):
        sbp, dbp = data.get("sbp"), data.get("dbp")
        if (sbp is None) != (dbp is None):
            raise ma.ValidationError("give systolic and diastolic together", "dbp" if dbp is None else "sbp")
        if sbp is not None and dbp >= sbp:
            raise ma.ValidationError("diastolic must be lower than systolic", "dbp")


class VitalsIn(BloodPressureIn):
    heart_rate = _int(20, 250, metadata={"description": "beats per minute"})
    weight_kg = _num(1, 300)
    fasting_glucose = _num(0.5, 50, metadata={"description": "mmol/L"})


class LifestyleIn(Strict):
    exercise_frequency = _choice(("daily", "weekly", "occasionally", "never"))
    exercise_minutes = _int(0, 600)
    exercise_years = _int(0, 100)
    exercise_type = _text(50)
    diet = _strings(6, options=("balanced", "meat_heavy", "vegetarian", "salty", "oily", "sweet"))
    smoking = _choice(("never", "quit", "current"))
    cigarettes_per_day = _int(0, 100)
    smoking_start_age = _int(5, 100)
    quit_smoking_age = _int(5, 120)
    drinking = _choice(("never", "occasionally", "often", "daily"))
    alcohol_ml_per_day = _int(0, 3000)
    drinking_types = _strings(5, options=("liquor", "beer", "wine", "rice_wine", "other"))
    occupational_exposure = _text(200)


class ElderlyIn(Strict):
    """老年人: 生活自理能力评估 (0–37), 健康状态自我评估 (1 满意 … 5 不满意), 认知/情感粗筛."""

    self_care_score = _int(0, 37)
    health_self_assessment = _int(1, 5)
    cognitive_screen = _choice(("negative", "positive"))
    mmse_score = _int(0, 30)
    emotional_screen = _choice(("negative", "positive"))
    depression_score = _int(0, 30)


class LabsIn(Strict):
    hemoglobin = _num(20, 250, metadata={"description": "g/L"})
    wbc = _num(0.1, 100, metadata={"description": "10^9/L"})
    platelets = _num(1, 2000, metadata={"description": "10^9/L"})
    urine_protein = _choice(("-", "±", "+", "++", "+++", "++++"))
    urine_glucose = _choice(("-", "±", "+", "++", "+++", "++++"))
    hba1c = _num(2, 20, metadata={"description": "%"})
    alt = _num(0, 5000, metadata={"description": "U/L"})
    ast = _num(0, 5000, metadata={"description": "U/L"})
    total_bilirubin = _num(0, 1000, metadata={"description": "µmol/L"})
    creatinine = _num(5, 3000, metadata={"description": "µmol/L"})
    urea = _num(0.5, 100, metadata={"description": "mmol/L"})
    total_cholesterol = _num(0.5, 30, metadata={"description": "mmol/L"})
    triglycerides = _num(0.1, 50, metadata={"description": "mmol/L"})
    ldl = _num(0.1, 20, metadata={"description": "mmol/L"})
    hdl = _num(0.1, 10, metadata={"description": "mmol/L"})
    ecg = _text(200)
    chest_xray = _text(200)
    ultrasound = _text(200)


class MedicationIn(Strict):
    name = _text(100, required=True)
    dose = _text(50)
    frequency = _text(50)
    adherence = _choice(("regular", "intermittent", "none"))


class HealthCheckIn(VitalsIn):
    checked_on = ma.fields.Date(required=True)
    temperature = _num(30, 45, metadata={"description": "°C"})
    respiration = _int(5, 80, metadata={"description": "breaths per minute"})
    height_cm = _num(30, 250)
    waist_cm = _num(20, 250)
    symptoms = _strings(30, 50, load_default=list)
    lifestyle = ma.fields.Nested(LifestyleIn, load_default=dict)
    elderly = ma.fields.Nested(
        ElderlyIn, allow_none=True, metadata={"description": "65+ only: self-care and cognitive screening"}
    )
    organ_function = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=40)),
        values=ma.fields.String(validate=ma.validate.Length(max=200)),
        validate=ma.validate.Length(max=50),
        load_default=dict,
    )
    physical_exam = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=40)),
        values=ma.fields.String(validate=ma.validate.Length(max=200)),
        validate=ma.validate.Length(max=50),
        load_default=dict,
    )
    labs = ma.fields.Nested(LabsIn, load_default=dict)
    main_findings = _strings(20, load_default=list)
    medications = _list(ma.fields.Nested(MedicationIn), validate=ma.validate.Length(max=30), load_default=list)
    assessment = _choice(("normal", "abnormal"), allow_none=True)
    abnormalities = _strings(20, load_default=list)
    guidance = _strings(3, options=("include_in_chronic_management", "recheck", "referral"), load_default=list)
    risk_factor_guidance = _strings(
        8,
        options=("quit_smoking", "healthy_drinking", "diet", "exercise", "weight_loss", "vaccination", "other"),
        load_default=list,
    )
    note = _text(2000, allow_none=True)

    @ma.validates_schema
    def _assessment(self, data, **kwargs):
        if data.get("assessment") == "abnormal" and not data.get("abnormalities"):
            raise ma.ValidationError("list the abnormalities of an abnormal assessment", "abnormalities")


class ReferralIn(Strict):
    direction = _choice(("up", "down"), load_default="up")
    to_institution = _text(100, required=True)
    department = _text(50)
    reason = _text(500, required=True)


class TcmIn(Strict):
    constitution = _strings(
        9,
        options=(
            "balanced",
            "qi_deficiency",
            "yang_deficiency",
            "yin_deficiency",
            "phlegm_dampness",
            "damp_heat",
            "blood_stasis",
            "qi_stagnation",
            "special",
        ),
    )
    guidance = _strings(6, options=("emotional", "diet", "daily_life", "exercise", "acupoint", "other"))


class ServiceRecordIn(VitalsIn):
    kind = _choice(SERVICE_KINDS, required=True)
    served_on = ma.fields.Date(required=True)
    summary = _text(2000, allow_none=True)
    referral = ma.fields.Nested(ReferralIn, allow_none=True)
    tcm = ma.fields.Nested(TcmIn, allow_none=True)

    @ma.validates_schema
    def _kind_parts(self, data, **kwargs):
        kind = data.get("kind")
        if kind == "referral" and not data.get("referral"):
            raise ma.ValidationError("a referral needs its destination and reason", "referral")
        if kind != "referral" and data.get("referral"):
            raise ma.ValidationError("only for kind 'referral'", "referral")
        if kind != "tcm" and data.get("tcm"):
            raise ma.ValidationError("only for kind 'tcm'", "tcm")


class ConditionCreateIn(Strict):
    disease = _choice(DISEASES, required=True)
    diagnosed_on = ma.fields.Date(required=True)


_STAFF_PURPOSES = tuple(p for p in PURPOSES if p not in ("self_access", "family_access"))
ARCHIVE_SECTION_NAMES = (
    "basic_info",
    "populations",
    "conditions",
    "health_checks",
    "pregnancies",
    "child_checks",
    "contacts",
    "referrals",
    "followups",
    "service_records",
    "contract",
)


class ArchiveArgs(Strict):
    health_checks_page = ma.fields.Integer(load_default=1, validate=R(min=1, max=100000))
    service_records_page = ma.fields.Integer(load_default=1, validate=R(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=10, validate=R(min=1, max=MAX_PER_PAGE))
    sections = DelimitedList(
        _choice(ARCHIVE_SECTION_NAMES),
        metadata={"description": "comma-separated subset (e.g. to page one list); default all"},
    )
    purpose = _choice(
        _STAFF_PURPOSES,
        metadata={
            "description": "staff only: why the archive is read (access log); default care. "
            "Residents' reads are always self_access / family_access."
        },
    )


class FhirArgs(Strict):
    purpose = _choice(_STAFF_PURPOSES, metadata={"description": "staff only (access log); default care"})


class MetricsArgs(Strict):
    institution_id = ma.fields.Integer()
    on = evaluation_day(metadata={"description": "evaluation day; default today"})


# --- output ------------------------------------------------------------------------------


class _Ref(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()


class VitalsOut(Out):
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    heart_rate = ma.fields.Integer(allow_none=True)
    weight_kg = ma.fields.Float(allow_none=True)
    fasting_glucose = ma.fields.Float(allow_none=True)


class HealthCheckOut(VitalsOut):
    id = ma.fields.Integer()
    checked_on = ma.fields.Date()
    institution = ma.fields.Nested(_Ref)
    doctor = ma.fields.String(allow_none=True)
    temperature = ma.fields.Float(allow_none=True)
    respiration = ma.fields.Integer(allow_none=True)
    height_cm = ma.fields.Float(allow_none=True)
    waist_cm = ma.fields.Float(allow_none=True)
    bmi = ma.fields.Float(allow_none=True, metadata={"description": "computed: kg / m², one decimal"})
    symptoms = _list(ma.fields.String())
    lifestyle = ma.fields.Dict()
    elderly = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "65+: self-care score and level (independent/mild/moderate/dependent), "
            "self-assessment, cognitive and emotional screening"
        },
    )
    organ_function = ma.fields.Dict()
    physical_exam = ma.fields.Dict()
    labs = ma.fields.Dict()
    main_findings = _list(ma.fields.String())
    medications = _list(ma.fields.Dict())
    assessment = ma.fields.String(allow_none=True)
    abnormalities = _list(ma.fields.String())
    guidance = _list(ma.fields.String())
    risk_factor_guidance = _list(ma.fields.String())
    note = ma.fields.String(allow_none=True)


class ServiceRecordOut(VitalsOut):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    served_on = ma.fields.Date()
    institution = ma.fields.Nested(_Ref)
    doctor = ma.fields.String(allow_none=True)
    summary = ma.fields.String(allow_none=True)
    referral = ma.fields.Dict(allow_none=True)
    tcm = ma.fields.Dict(allow_none=True)


class ConditionRecordOut(Out):
    id = ma.fields.Integer()
    disease = ma.fields.String()
    diagnosed_on = ma.fields.Date()
    active = ma.fields.Boolean()


class ComparisonOut(Out):
    year = ma.fields.Integer()
    checked_on = ma.fields.Date(allow_none=True)
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    weight_kg = ma.fields.Float(allow_none=True)
    bmi = ma.fields.Float(allow_none=True)
    fasting_glucose = ma.fields.Float(allow_none=True)


class HealthCheckSection(Out):
    items = _list(ma.fields.Nested(HealthCheckOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    comparison = _list(
        ma.fields.Nested(ComparisonOut),
        allow_none=True,
        metadata={
            "description": "65+: the latest check of this year and each of the two before, side by side "
            "(a year without a check has null values); null under 65"
        },
    )


class ServiceRecordSection(Out):
    items = _list(ma.fields.Nested(ServiceRecordOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class ChildCheckSection(Out):
    items = _list(ma.fields.Nested("ChildCheckOut"))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class ArchiveOut(Out):
    basic_info = ma.fields.Nested(
        ResidentOut, metadata={"description": "ID number masked; phone masked unless the reader is the resident"}
    )
    populations = _list(ma.fields.String())
    conditions = _list(ma.fields.Nested(ConditionRecordOut))
    health_checks = ma.fields.Nested(HealthCheckSection)
    pregnancies = ma.fields.Raw(
        allow_none=True,
        metadata={
            "description": "filled by the maternal feature: a woman's pregnancies (10–59 years), newest first, "
            "in the shape of GET /residents/{rid}/pregnancies' items; null for anyone else"
        },
    )
    child_checks = ma.fields.Nested(
        ChildCheckSection,
        allow_none=True,
        metadata={
            "description": "a child's health checks, newest first (0–6 years, or anyone with such checks); "
            "the schedule: GET /residents/{rid}/child-checks"
        },
    )
    followups = ma.fields.Raw(allow_none=True, metadata={"description": "filled by the follow-up feature"})
    contacts = ma.fields.Raw(
        metadata={
            "description": "filled by the follow-up feature, for staff only: the latest contact attempts about "
            "the resident's worklist entries, newest first, in the shape of GET /residents/{rid}/contacts' items"
        }
    )
    referrals = ma.fields.Raw(
        metadata={
            "description": "filled by the referral feature: the resident's referrals, newest first, in the "
            "shape of GET /residents/{rid}/referrals' items"
        }
    )
    service_records = ma.fields.Nested(ServiceRecordSection)
    contract = ma.fields.Raw(allow_none=True, metadata={"description": "filled by the contracts feature"})


class AccessLogArgs(PageArgs):
    pass


class AccessLogOut(Out):
    at = ma.fields.DateTime()
    actor_kind = ma.fields.String(metadata={"description": "resident | family | staff | system"})
    actor_display = ma.fields.String()
    institution = ma.fields.String(allow_none=True)
    action = ma.fields.String(metadata={"description": "read | create | update | export"})
    section = ma.fields.String()
    purpose = ma.fields.String()


class AccessLogPage(Out):
    items = _list(ma.fields.Nested(AccessLogOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class MetricOut(Out):
    institution_id = ma.fields.Integer()
    institution = ma.fields.String()
    indicator = ma.fields.String()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True)


# --- child health checks (0–6 years) -------------------------------------------------------------
