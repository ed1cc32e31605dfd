import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.schemas import Out, Strict, at_most_decimals, evaluation_day, name_field
from app.contracts.models import (
    CHANNELS,
    CONTRACT_STATUSES,
    PACKAGE_KINDS,
    PACKAGE_STATUSES,
    SERVICE_TYPES,
    TERMINATION_REASONS,
)
from app.residents.populations import POPULATIONS

_list = ma.fields.List
# NUMERIC(10, 2): a third decimal is a 422, not rounded away.
_money = dict(validate=[ma.validate.Range(min=0, max=100000), at_most_decimals(2)])


# --- packages -------------------------------------------------------------------


class PackageItemIn(Strict):
    name = name_field(100, required=True)
    service_type = ma.fields.String(required=True, validate=ma.validate.OneOf(SERVICE_TYPES))
    times_per_year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=365))


class PackageUpdateIn(Strict):
    """A whole package (PUT replaces it; a package already signed gets a new version)."""

    name = name_field(100, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(PACKAGE_KINDS))
    populations = _list(ma.fields.String(validate=ma.validate.OneOf(POPULATIONS)), load_default=list)
    price = ma.fields.Decimal(required=True, **_money)
    public_health_subsidy = ma.fields.Decimal(
        load_default=None, allow_none=True, **_money, metadata={"description": "default 30.00 for a basic package"}
    )
    valid_from = ma.fields.Date(required=True)
    valid_until = ma.fields.Date(load_default=None, allow_none=True)
    description = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))
    institution_ids = _list(ma.fields.Integer(), required=True, validate=ma.validate.Length(min=1, max=200))
    items = _list(ma.fields.Nested(PackageItemIn), required=True, validate=ma.validate.Length(min=1, max=50))


class PackageCreateIn(PackageUpdateIn):
    code = ma.fields.String(
        required=True,
        validate=[
            ma.validate.Length(min=1, max=40),
            ma.validate.Regexp(r"^[A-Za-z0-9_.-]+$", error="letters, digits, - _ . only"),
        ],
    )


class PackageItemOut(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()
    service_type = ma.fields.String()
    times_per_year = ma.fields.Integer()


class PackageOut(Out):
    id = ma.fields.Integer()
    code = ma.fields.String()
    version = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    populations = _list(ma.fields.String())
    price = ma.fields.Float()
    public_health_subsidy = ma.fields.Float()
    valid_from = ma.fields.Date()
    valid_until = ma.fields.Date(allow_none=True)
    description = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    institution_ids = _list(ma.fields.Integer())
    owner_institution_id = ma.fields.Integer()
    previous_version_id = ma.fields.Integer(allow_none=True)
    items = _list(ma.fields.Nested(PackageItemOut))


class PackageListArgs(PageArgs):
    population = ma.fields.String(validate=ma.validate.OneOf(POPULATIONS))
    institution_id = ma.fields.Integer()
    resident_id = ma.fields.Integer(
        metadata={"description": "packages this resident may choose (residents: default themselves)"}
    )
    kind = ma.fields.String(validate=ma.validate.OneOf(PACKAGE_KINDS))
    status = ma.fields.String(
        validate=ma.validate.OneOf(PACKAGE_STATUSES), metadata={"description": "staff catalogue only; default active"}
    )


class PackagePage(Out):
    items = _list(ma.fields.Nested(PackageOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


# --- contracts ------------------------------------------------------------------


class ContractCreateIn(Strict):
    resident_ids = _list(ma.fields.Integer(), required=True, validate=ma.validate.Length(min=1, max=10))
    team_id = ma.fields.Integer(required=True)
    package_ids = _list(ma.fields.Integer(), required=True, validate=ma.validate.Length(min=1, max=20))
    consent = ma.fields.Boolean(required=True, validate=ma.validate.Equal(True, error="explicit consent is required"))
    channel = ma.fields.String(
        validate=ma.validate.OneOf(CHANNELS),
        metadata={"description": "residents: mini_program (default) or qr_code; staff: clinic"},
    )
    guardian_resident_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "staff signing a child under 14: the guardian present"}
    )


class SignIn(Strict):
    doctor_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "responsible doctor (default: the team's GP leader)"}
    )


class RejectIn(Strict):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class TerminateIn(Strict):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(TERMINATION_REASONS))
    note = ma.fields.String(validate=ma.validate.Length(max=200), allow_none=True)


class RenewIn(Strict):
    consent = ma.fields.Boolean(required=True, validate=ma.validate.Equal(True, error="explicit consent is required"))
    package_ids = _list(
        ma.fields.Integer(),
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "default: the current versions of the packages carried"},
    )
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    guardian_resident_id = ma.fields.Integer(allow_none=True)


class DeliveryIn(Strict):
    package_item_id = ma.fields.Integer(required=True)
    delivered_on = ma.fields.Date(required=True)
    note = ma.fields.String(validate=ma.validate.Length(max=500), allow_none=True)


class ContractListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(CONTRACT_STATUSES))
    team_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    family_group_id = ma.fields.Integer()
    ends_before = ma.fields.Date(metadata={"description": "periods ending on or before this day"})


class UndeliveredArgs(PageArgs):
    team_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    service_type = ma.fields.String(validate=ma.validate.OneOf(SERVICE_TYPES))


class IndicatorArgs(Strict):
    institution_id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    on = evaluation_day(metadata={"description": "evaluate as of this day (default today)"})


class ContractPartyRef(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()


class ContractTeamRef(ContractPartyRef):
    institution_id = ma.fields.Integer()


class ContractPackageRef(Out):
    id = ma.fields.Integer()
    code = ma.fields.String()
    version = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    price = ma.fields.Float()


class ContractItemOut(Out):
    id = ma.fields.Integer()
    package_item_id = ma.fields.Integer()
    package_id = ma.fields.Integer()
    name = ma.fields.String()
    service_type = ma.fields.String()
    total = ma.fields.Integer()
    delivered = ma.fields.Integer()
    remaining = ma.fields.Integer()


class ConsentOut(Out):
    at = ma.fields.DateTime()
    channel = ma.fields.String()
    by_resident_id = ma.fields.Integer(allow_none=True)


class FamilyMemberOut(Out):
    contract_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    status = ma.fields.String()


class ContractStatusRef(Out):
    id = ma.fields.Integer()
    status = ma.fields.String()


class ContractSummaryOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    resident = ma.fields.Nested(ContractPartyRef)
    team_id = ma.fields.Integer()
    team = ma.fields.Nested(ContractTeamRef)
    doctor = ma.fields.Nested(ContractPartyRef, allow_none=True)
    status = ma.fields.String()
    channel = ma.fields.String()
    family_group_id = ma.fields.Integer(allow_none=True)
    previous_contract_id = ma.fields.Integer(allow_none=True)
    applied_at = ma.fields.DateTime()
    signed_at = ma.fields.DateTime(allow_none=True)
    starts_on = ma.fields.Date(allow_none=True)
    ends_on = ma.fields.Date(allow_none=True)
    fee = ma.fields.Float()
    public_health_subsidy = ma.fields.Float()
    consent = ma.fields.Nested(ConsentOut)
    guardian_resident_id = ma.fields.Integer(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    terminated_on = ma.fields.Date(allow_none=True)
    termination_reason = ma.fields.String(allow_none=True)
    packages = _list(ma.fields.Nested(ContractPackageRef))


class ContractOut(ContractSummaryOut):
    items = _list(ma.fields.Nested(ContractItemOut))
    renewal = ma.fields.Nested(ContractStatusRef, allow_none=True)
    family_members = _list(ma.fields.Nested(FamilyMemberOut))


class ContractPage(Out):
    items = _list(ma.fields.Nested(ContractSummaryOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class DeliveryOut(Out):
    id = ma.fields.Integer()
    contract_id = ma.fields.Integer()
    contract_item_id = ma.fields.Integer()
    package_item_id = ma.fields.Integer()
    service_type = ma.fields.String()
    delivered_on = ma.fields.Date()
    delivered_by_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    source = ma.fields.String()
    source_id = ma.fields.String(allow_none=True)
    recorded_at = ma.fields.DateTime()
    item = ma.fields.Nested(ContractItemOut, metadata={"description": "the item's counts after this delivery"})


class DeliveryPage(Out):
    items = _list(ma.fields.Nested(DeliveryOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class UndeliveredOut(Out):
    contract_id = ma.fields.Integer()
    contract_item_id = ma.fields.Integer()
    package_item_id = ma.fields.Integer()
    resident = ma.fields.Nested(ContractPartyRef)
    team_id = ma.fields.Integer()
    name = ma.fields.String()
    service_type = ma.fields.String()
    total = ma.fields.Integer()
    delivered = ma.fields.Integer()
    remaining = ma.fields.Integer()
    ends_on = ma.fields.Date()


class UndeliveredPage(Out):
    items = _list(ma.fields.Nested(UndeliveredOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class IndicatorRowOut(Out):
    indicator = ma.fields.String()
    label = ma.fields.String()
    population = ma.fields.String(allow_none=True)
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    met = ma.fields.Boolean(allow_none=True)


class IndicatorsOut(Out):
    on = ma.fields.Date()
    institution_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    rows = _list(ma.fields.Nested(IndicatorRowOut))
