from __future__ import annotations

import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.schemas import Out, Strict, evaluation_day
from app.indicators.catalogue import KEYS, TARGET_KEYS

R = ma.validate.Range


class IndicatorList(ma.fields.Field):
    """``indicator=a,b`` or repeated ``indicator=a&indicator=b`` → a list of known keys."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = value if isinstance(value, list) else [value]
        keys = [k.strip() for item in raw for k in str(item).split(",") if k.strip()]
        unknown = [k for k in keys if k not in KEYS]
        if unknown:
            raise ma.ValidationError("unknown indicator: " + ", ".join(unknown))
        return keys


class _ScopeArgs(Strict):
    institution_id = ma.fields.Integer(metadata={"description": "default: the caller's institution"})
    team_id = ma.fields.Integer(metadata={"description": "residents whose responsible team it is"})
    year = ma.fields.Integer(validate=R(min=2000, max=2100), metadata={"description": "default: this year"})
    as_of = evaluation_day(
        metadata={"description": "the evaluation day, in the year (default: today, capped at 31 December)"}
    )


class IndicatorsArgs(_ScopeArgs):
    indicator = IndicatorList(metadata={"description": "only these indicators (comma separated)"})
    by = ma.fields.String(
        load_default="institution",
        validate=ma.validate.OneOf(("institution", "team", "month")),
        metadata={
            "description": "institution: the subtree and each child; team: per team; "
            "month: a series per indicator, month by month"
        },
    )


class IndicatorExportArgs(_ScopeArgs):
    indicator = IndicatorList()


class IndicatorChartArgs(_ScopeArgs):
    indicator = IndicatorList(metadata={"description": "one indicator, or several / none for a grid"})


class IndicatorDrilldownArgs(PageArgs):
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    year = ma.fields.Integer(validate=R(min=2000, max=2100))
    as_of = evaluation_day()
    part = ma.fields.String(
        load_default="numerator",
        validate=ma.validate.OneOf(("numerator", "missing")),
        metadata={"description": "numerator: counted; missing: in the denominator, not counted"},
    )


class IndicatorsRowOut(Out):
    institution_id = ma.fields.Integer(allow_none=True)
    institution_name = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    team_name = ma.fields.String(allow_none=True)
    scope = ma.fields.String(
        metadata={
            "description": "total (the subtree) | direct (registered at the institution "
            "itself) | child (a child's subtree) | team"
        }
    )
    indicator = ma.fields.String()
    label = ma.fields.String()
    group = ma.fields.String()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer(allow_none=True)
    rate = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    target_count = ma.fields.Integer(allow_none=True)
    met = ma.fields.Boolean(allow_none=True)


class IndicatorPointOut(Out):
    month = ma.fields.Integer()
    as_of = ma.fields.Date()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer(allow_none=True)
    rate = ma.fields.Float(allow_none=True)
    met = ma.fields.Boolean(allow_none=True)


class IndicatorSeriesOut(Out):
    indicator = ma.fields.String()
    label = ma.fields.String()
    name = ma.fields.String()
    group = ma.fields.String()
    target = ma.fields.Float(allow_none=True)
    target_count = ma.fields.Integer(allow_none=True)
    points = ma.fields.List(ma.fields.Nested(IndicatorPointOut))


class IndicatorReportOut(Out):
    institution_id = ma.fields.Integer()
    institution_name = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    team_name = ma.fields.String(allow_none=True)
    year = ma.fields.Integer()
    as_of = ma.fields.Date()
    rows = ma.fields.List(ma.fields.Nested(IndicatorsRowOut))
    series = ma.fields.List(ma.fields.Nested(IndicatorSeriesOut))


class IndicatorDrilldownResidentOut(Out):
    id = ma.fields.Integer()
    archive_no = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String()
    age = ma.fields.Integer(metadata={"description": "on the evaluation day"})
    id_number = ma.fields.String(metadata={"description": "masked"})
    phone = ma.fields.String(allow_none=True, metadata={"description": "masked"})
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)


class IndicatorDrilldownOut(Out):
    indicator = ma.fields.String()
    label = ma.fields.String()
    part = ma.fields.String()
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)
    year = ma.fields.Integer()
    as_of = ma.fields.Date()
    items = ma.fields.List(ma.fields.Nested(IndicatorDrilldownResidentOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class IndicatorTargetIn(Strict):
    institution_id = ma.fields.Integer(required=True)
    year = ma.fields.Integer(required=True, validate=R(min=2000, max=2100))
    indicator = ma.fields.String(required=True, validate=ma.validate.OneOf(TARGET_KEYS))
    target_rate = ma.fields.Float(allow_none=True, load_default=None, validate=R(min=0, max=1))
    target_count = ma.fields.Integer(allow_none=True, load_default=None, validate=R(min=0, max=100_000_000))


class IndicatorTargetArgs(Strict):
    institution_id = ma.fields.Integer()
    year = ma.fields.Integer(validate=R(min=2000, max=2100))


class IndicatorTargetOut(Out):
    institution_id = ma.fields.Integer()
    year = ma.fields.Integer()
    indicator = ma.fields.String()
    label = ma.fields.String()
    target_rate = ma.fields.Float(allow_none=True)
    target_count = ma.fields.Integer(allow_none=True)
    source = ma.fields.String()
    updated_at = ma.fields.DateTime()


class IndicatorDefinitionOut(Out):
    key = ma.fields.String()
    label = ma.fields.String()
    name = ma.fields.String()
    group = ma.fields.String()
    numerator = ma.fields.String()
    denominator = ma.fields.String()
    denominator_kind = ma.fields.String()
    window = ma.fields.String()
    target = ma.fields.String()
    default_target = ma.fields.Float(allow_none=True)
    drilldown_parts = ma.fields.List(ma.fields.String())
