import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.schemas import FreeForm, Out, Strict, name_field
from app.residents.models import DISEASES, RESIDENCY_TYPES, RESIDENT_STATUSES
from app.residents.populations import POPULATIONS

_list = ma.fields.List


class ConditionOut(Out):
    disease = ma.fields.String()
    diagnosed_on = ma.fields.Date()


class ResidentOut(Out):
    id = ma.fields.Integer()
    archive_no = ma.fields.String()
    name = ma.fields.String()
    id_number = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "masked to the 6-digit area code (371002************) unless the viewer is the resident; "
            "null for a newborn's archive until the household registration gives the number"
        },
    )
    sex = ma.fields.String()
    birth_on = ma.fields.Date()
    age = ma.fields.Integer()
    phone = ma.fields.String(allow_none=True, metadata={"description": "masked unless the viewer is the resident"})
    address = ma.fields.String(allow_none=True)
    household_id = ma.fields.Integer(allow_none=True)
    relation_to_head = ma.fields.String(allow_none=True)
    residency_type = ma.fields.String()
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String()
    ethnicity = ma.fields.String(allow_none=True)
    marital_status = ma.fields.String(allow_none=True)
    education = ma.fields.String(allow_none=True)
    occupation = ma.fields.String(allow_none=True)
    blood_type = ma.fields.String(allow_none=True)
    payment_methods = _list(ma.fields.String())
    allergies = _list(ma.fields.String())
    exposures = _list(ma.fields.String())
    past_history = _list(ma.fields.Raw())
    family_history = _list(ma.fields.Raw())
    disabilities = _list(ma.fields.String())
    living_environment = ma.fields.Dict()
    disabled_certified = ma.fields.Boolean()
    poverty_alleviated = ma.fields.Boolean()
    special_family = ma.fields.Boolean()
    pregnancy_due_on = ma.fields.Date(
        allow_none=True,
        metadata={"description": "the ongoing pregnancy's expected delivery date (POST …/pregnancies sets it)"},
    )
    populations = _list(ma.fields.String())
    conditions = _list(ma.fields.Nested(ConditionOut))


def _text(max_len):
    return ma.fields.String(validate=ma.validate.Length(min=1, max=max_len), allow_none=True)


class _ArchiveFields(Strict):
    """Fields of the basic sheet that staff may write."""

    phone = ma.fields.String(
        validate=ma.validate.Regexp(r"^1[3-9]\d{9}$", error="must be an 11-digit mobile number"), allow_none=True
    )
    address = _text(200)
    household_id = ma.fields.Integer(allow_none=True)
    relation_to_head = _text(20)
    residency_type = ma.fields.String(validate=ma.validate.OneOf(RESIDENCY_TYPES))
    team_id = ma.fields.Integer(allow_none=True)
    ethnicity = _text(20)
    marital_status = _text(20)
    education = _text(20)
    occupation = _text(40)
    blood_type = ma.fields.String(validate=ma.validate.OneOf(["A", "B", "O", "AB", "unknown"]), allow_none=True)
    payment_methods = _list(ma.fields.String(validate=ma.validate.Length(max=40)), validate=ma.validate.Length(max=10))
    allergies = _list(ma.fields.String(validate=ma.validate.Length(max=40)), validate=ma.validate.Length(max=20))
    exposures = _list(ma.fields.String(validate=ma.validate.Length(max=40)), validate=ma.validate.Length(max=20))
    past_history = _list(FreeForm(), validate=ma.validate.Length(max=30))
    family_history = _list(FreeForm(), validate=ma.validate.Length(max=30))
    disabilities = _list(ma.fields.String(validate=ma.validate.Length(max=40)), validate=ma.validate.Length(max=10))
    living_environment = FreeForm()
    disabled_certified = ma.fields.Boolean()
    poverty_alleviated = ma.fields.Boolean()
    special_family = ma.fields.Boolean()


class ResidentCreateIn(_ArchiveFields):
    name = name_field(50, required=True)
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=18))
    institution_id = ma.fields.Integer(required=True)
    conditions = _list(
        ma.fields.Nested(
            ma.Schema.from_dict(
                {
                    "disease": ma.fields.String(required=True, validate=ma.validate.OneOf(DISEASES)),
                    "diagnosed_on": ma.fields.Date(required=True),
                },
                name="ConditionIn",
            )
        ),
        load_default=list,
    )


class ResidentPatchIn(_ArchiveFields):
    name = name_field(50)
    id_number = ma.fields.String(
        validate=ma.validate.Length(min=1, max=18),
        metadata={
            "description": "only for an archive without one (a newborn's, opened by the delivery): the number's "
            "birth date and sex must be the archive's; a number on record cannot be changed"
        },
    )
    status = ma.fields.String(validate=ma.validate.OneOf(RESIDENT_STATUSES))
    status_changed_on = ma.fields.Date()


class ResidentListArgs(PageArgs):
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=50),
        metadata={
            "description": "a name (prefix) or an archive number; an ID number (or any run of 15 or more digits) "
            "is a 422: look it up with POST /api/v1/residents/lookup"
        },
    )
    population = ma.fields.String(validate=ma.validate.OneOf(POPULATIONS))
    team_id = ma.fields.Integer()
    institution_id = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(RESIDENT_STATUSES))


class ResidentLookupIn(Strict):
    id_number = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=30),
        metadata={"description": "18 characters (GB 11643), checked MOD 11-2"},
    )


class ResidentPage(Out):
    items = _list(ma.fields.Nested(ResidentOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class DueOut(Out):
    """One open plan of the account's own or a family member's archive."""

    plan_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    programme = ma.fields.String(
        metadata={
            "description": "hypertension | t2dm | antenatal | postpartum | newborn | child | elderly_check | "
            "elderly_tcm | disabled_check"
        }
    )
    kind = ma.fields.String(
        metadata={
            "description": "followup | health_check | tcm, the child check (newborn_visit, month_3 …) or the "
            "pregnancy's visit (first, w16_20 …, home_visit, day42_check)"
        }
    )
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    window = ma.fields.String(metadata={"description": "upcoming | due | overdue"})
    overdue_days = ma.fields.Integer()


class MeOut(Out):
    account = ma.fields.Dict()
    resident = ma.fields.Nested(ResidentOut, allow_none=True)
    family = _list(ma.fields.Dict())
    populations = _list(ma.fields.String())
    contract = ma.fields.Dict(allow_none=True)
    due = _list(
        ma.fields.Nested(DueOut),
        metadata={"description": "the next visits and checks due for me and my family, earliest due first"},
    )
