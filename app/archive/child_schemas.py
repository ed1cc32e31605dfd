"""Input and output shapes of the children's health checks (儿童健康检查): what a check takes, what it
shows (with the growth judged against the WHO standards), and a child's schedule."""

import marshmallow as ma

from app.archive.child_schedule import KIND_NAMES
from app.archive.schemas import _Ref, _strings
from app.common.schemas import Out, Strict
from app.common.schemas import bounded_float as _num
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text

_list = ma.fields.List


class EyeCheckIn(Strict):
    """眼保健和视力检查: the eye examination's result; visual acuity (decimal) from 4 years."""

    result = _choice(("normal", "abnormal"), required=True)
    vision_left = _num(0.1, 2.0)
    vision_right = _num(0.1, 2.0)
    referred = ma.fields.Boolean()


class ChildCheckIn(Strict):
    checked_on = ma.fields.Date(required=True)
    kind = _choice(
        KIND_NAMES,
        metadata={"description": "which check of the schedule; derived from the child's age when left out"},
    )
    weight_kg = _num(0.5, 60)
    height_cm = _num(30, 150, metadata={"description": "length lying down under 2 years"})
    head_circumference_cm = _num(25, 60)
    hemoglobin = _num(30, 200, metadata={"description": "g/L"})
    development = _choice(("normal", "suspected", "abnormal"))
    eye_check = ma.fields.Nested(EyeCheckIn, allow_none=True)
    tcm_guidance = _strings(
        4,
        options=("diet", "daily_life", "abdominal_massage", "spine_pinching", "acupoint"),
        load_default=list,
        metadata={"description": "中医药健康指导, at the 6, 12, 18, 24, 30 and 36-month checks"},
    )
    guidance = _strings(
        6,
        options=("feeding", "development", "disease_prevention", "injury_prevention", "oral_health", "other"),
        load_default=list,
    )
    note = _text(1000)


class ZScoreOut(Out):
    z = ma.fields.Float()
    judgement = ma.fields.String(metadata={"description": "low (< −2 SD) | normal | high (> +2 SD)"})


class GrowthOut(Out):
    standard = ma.fields.String()
    weight_for_age = ma.fields.Nested(ZScoreOut, allow_none=True)
    length_for_age = ma.fields.Nested(ZScoreOut, allow_none=True, metadata={"description": "lying down under 2 years"})
    head_circumference_for_age = ma.fields.Nested(
        ZScoreOut, allow_none=True, metadata={"description": "null after 5 years (no WHO table)"}
    )


class ChildCheckOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    kind = ma.fields.String()
    label = ma.fields.String()
    checked_on = ma.fields.Date()
    age_days = ma.fields.Integer()
    weight_kg = ma.fields.Float(allow_none=True)
    height_cm = ma.fields.Float(allow_none=True)
    head_circumference_cm = ma.fields.Float(allow_none=True)
    growth = ma.fields.Nested(
        GrowthOut,
        allow_none=True,
        metadata={
            "description": "judged against the WHO Child Growth Standards (app.archive.growth); null: nothing measured"
        },
    )
    hemoglobin = ma.fields.Float(allow_none=True)
    development = ma.fields.String(allow_none=True)
    eye_checked = ma.fields.Boolean()
    eye_check = ma.fields.Dict(allow_none=True)
    tcm_guidance = _list(ma.fields.String())
    guidance = _list(ma.fields.String())
    note = ma.fields.String(allow_none=True)
    institution = ma.fields.Nested(_Ref)
    doctor = ma.fields.String(allow_none=True)


class ChildCheckDueOut(Out):
    kind = ma.fields.String()
    label = ma.fields.String()
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    done_on = ma.fields.Date(allow_none=True)
    missed = ma.fields.Boolean(metadata={"description": "its window passed and it was not done"})


class ChildChecksOut(Out):
    resident_id = ma.fields.Integer()
    items = _list(ma.fields.Nested(ChildCheckOut), metadata={"description": "newest first"})
    schedule = _list(ma.fields.Nested(ChildCheckDueOut))
