"""Input and output shapes of the maternal line. Inputs reject unknown fields; ranges are the
plausible ones, so a typo (fundal height 300 cm) is a 422 naming the field."""

import marshmallow as ma

from app.archive.schemas import BloodPressureIn
from app.common.schemas import Out, Strict
from app.common.schemas import bounded_float as _num
from app.common.schemas import bounded_int as _int
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text
from app.maternal.models import OUTCOMES
from app.maternal.schedule import POSTPARTUM_KINDS

_list = ma.fields.List
# 高危因素 (the national form's risk assessment); ``advanced_age`` is also derived from the birth date
RISK_FACTORS = (
    "advanced_age", "hypertension", "diabetes", "heart_disease", "kidney_disease", "anaemia", "thyroid_disease",
    "previous_caesarean", "previous_adverse_outcome", "multiple_pregnancy", "abnormal_position", "placenta_previa",
    "preeclampsia", "gestational_diabetes", "fetal_growth_restriction", "infection", "other",
)  # fmt: skip
_GUIDANCE = ("nutrition", "lifestyle", "psychology", "exercise", "self_monitoring", "breastfeeding", "delivery_preparation", "newborn_care", "contraception", "other")  # fmt: skip
_FINDING = ("normal", "abnormal")


def _risk_factors(**kw):
    return _list(_choice(RISK_FACTORS), validate=ma.validate.Length(max=len(RISK_FACTORS)), load_default=list, **kw)


def _guidance():
    return _list(_choice(_GUIDANCE), validate=ma.validate.Length(max=len(_GUIDANCE)), load_default=list)


class PregnancyIn(Strict):
    registered_on = ma.fields.Date(required=True, metadata={"description": "建册: the booklet was opened"})
    last_menstrual_on = ma.fields.Date(
        required=True, metadata={"description": "末次月经; the gestation counts from it"}
    )
    gravidity = _int(1, 30, metadata={"description": "孕次, this pregnancy included"})
    parity = _int(0, 20, metadata={"description": "产次, births before this pregnancy"})
    risk_factors = _risk_factors(metadata={"description": "高危因素: any makes the pregnancy high-risk (≥ 7 visits)"})


class AntenatalVisitIn(BloodPressureIn):
    visit_on = ma.fields.Date(required=True)
    weight_kg = _num(25, 200)
    fundal_height_cm = _num(5, 50, metadata={"description": "宫底高度"})
    abdominal_circumference_cm = _num(50, 160, metadata={"description": "腹围"})
    fetal_heart_rate = _int(60, 220, metadata={"description": "胎心率, beats per minute"})
    fetal_position = _choice(("cephalic", "breech", "transverse", "unknown"))
    hemoglobin = _num(30, 200, metadata={"description": "g/L"})
    urine_protein = _choice(("-", "±", "+", "++", "+++"))
    risk_factors = _risk_factors(metadata={"description": "newly found; added to the pregnancy's"})
    classification = _choice(_FINDING)
    guidance = _guidance()
    referred = ma.fields.Boolean(load_default=False)
    note = _text(1000)


class BabyIn(Strict):
    name = _text(50, metadata={"description": "default: the mother's name + 之子 / 之女"})
    sex = _choice(("male", "female"), required=True)
    birth_weight_g = _int(300, 7000)
    live = ma.fields.Boolean(metadata={"description": "default: true for a live birth, false for a stillbirth"})


class ChildbirthIn(Strict):
    """How the pregnancy ended (分娩 or an early end)."""

    delivered_on = ma.fields.Date(required=True)
    discharged_on = ma.fields.Date(allow_none=True, metadata={"description": "the home visit counts from it"})
    outcome = _choice(OUTCOMES, required=True)
    delivery_place = _text(100)
    babies = _list(ma.fields.Nested(BabyIn), validate=ma.validate.Length(max=6), load_default=list)


class PostpartumVisitIn(BloodPressureIn):
    visit_on = ma.fields.Date(required=True)
    kind = _choice(POSTPARTUM_KINDS, required=True, metadata={"description": "产后访视 | 产后42天健康检查"})
    temperature_c = _num(34, 43)
    breasts = _choice(_FINDING)
    lochia = _choice(_FINDING)
    uterus = _choice(_FINDING)
    wound = _choice(_FINDING)
    mental = _choice(_FINDING)
    classification = _choice(("recovered", "abnormal"))
    guidance = _guidance()
    referred = ma.fields.Boolean(load_default=False)
    note = _text(1000)


class ScheduleItemOut(Out):
    kind = ma.fields.String()
    label = ma.fields.String()
    programme = ma.fields.String(metadata={"description": "antenatal | postpartum"})
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    done_on = ma.fields.Date(allow_none=True)
    missed = ma.fields.Boolean(metadata={"description": "the window passed without the visit"})


class AntenatalVisitOut(Out):
    id = ma.fields.Integer()
    pregnancy_id = ma.fields.Integer()
    visit_on = ma.fields.Date()
    slot = ma.fields.String(allow_none=True, metadata={"description": "the schedule's visit it fulfils; null: extra"})
    gestational_days = ma.fields.Integer()
    gestational_age = ma.fields.String(metadata={"description": "weeks+days, e.g. 16+3"})
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    weight_kg = ma.fields.Float(allow_none=True)
    fundal_height_cm = ma.fields.Float(allow_none=True)
    abdominal_circumference_cm = ma.fields.Float(allow_none=True)
    fetal_heart_rate = ma.fields.Integer(allow_none=True)
    fetal_position = ma.fields.String(allow_none=True)
    hemoglobin = ma.fields.Float(allow_none=True)
    urine_protein = ma.fields.String(allow_none=True)
    risk_factors = _list(ma.fields.String())
    classification = ma.fields.String(allow_none=True)
    guidance = _list(ma.fields.String())
    referred = ma.fields.Boolean()
    note = ma.fields.String(allow_none=True)


class PostpartumVisitOut(Out):
    id = ma.fields.Integer()
    pregnancy_id = ma.fields.Integer()
    kind = ma.fields.String()
    visit_on = ma.fields.Date()
    days_after_delivery = ma.fields.Integer()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    temperature_c = ma.fields.Float(allow_none=True)
    breasts = ma.fields.String(allow_none=True)
    lochia = ma.fields.String(allow_none=True)
    uterus = ma.fields.String(allow_none=True)
    wound = ma.fields.String(allow_none=True)
    mental = ma.fields.String(allow_none=True)
    classification = ma.fields.String(allow_none=True)
    guidance = _list(ma.fields.String())
    referred = ma.fields.Boolean()
    note = ma.fields.String(allow_none=True)


class BirthOut(Out):
    resident_id = ma.fields.Integer(allow_none=True, metadata={"description": "the baby's archive (live-born)"})
    live = ma.fields.Boolean()
    sex = ma.fields.String()
    birth_weight_g = ma.fields.Integer(allow_none=True)


class PregnancyOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "ongoing | delivered | ended"})
    registered_on = ma.fields.Date()
    last_menstrual_on = ma.fields.Date()
    expected_on = ma.fields.Date(metadata={"description": "预产期: last menstrual period + 280 days"})
    gestational_weeks_at_registration = ma.fields.Integer()
    gestational_age_at_registration = ma.fields.String()
    gestational_age = ma.fields.String(allow_none=True, metadata={"description": "today, while ongoing"})
    early_registration = ma.fields.Boolean(metadata={"description": "registered before 13 weeks"})
    gravidity = ma.fields.Integer(allow_none=True)
    parity = ma.fields.Integer(allow_none=True)
    risk_factors = _list(ma.fields.String())
    high_risk = ma.fields.Boolean()
    outcome = ma.fields.String(allow_none=True)
    delivered_on = ma.fields.Date(allow_none=True)
    discharged_on = ma.fields.Date(allow_none=True)
    delivery_place = ma.fields.String(allow_none=True)
    antenatal_visit_count = ma.fields.Integer()
    schedule = _list(ma.fields.Nested(ScheduleItemOut))
    antenatal_visits = _list(ma.fields.Nested(AntenatalVisitOut))
    births = _list(ma.fields.Nested(BirthOut))
    postpartum_visits = _list(ma.fields.Nested(PostpartumVisitOut))


class PregnanciesOut(Out):
    resident_id = ma.fields.Integer()
    items = _list(ma.fields.Nested(PregnancyOut), metadata={"description": "newest first"})
