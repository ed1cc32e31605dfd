import marshmallow as ma

from app.accounts.models import STAFF_ROLES
from app.common.schemas import Out, Strict, name_field
from app.orgs.models import INSTITUTION_KINDS, TEAM_ROLES


class InstitutionIn(Strict):
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9-]{2,32}$"))
    name = name_field(100, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(list(INSTITUTION_KINDS)))
    parent_id = ma.fields.Integer(allow_none=True, load_default=None)
    service_population = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=10_000_000))


class InstitutionOut(Out):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    level = ma.fields.Integer()
    parent_id = ma.fields.Integer(allow_none=True)
    service_population = ma.fields.Integer()
    children = ma.fields.List(ma.fields.Nested(lambda: InstitutionOut()))


class MemberIn(Strict):
    staff_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(TEAM_ROLES))


class TeamIn(Strict):
    name = name_field(100, required=True)
    institution_id = ma.fields.Integer(required=True)
    members = ma.fields.List(ma.fields.Nested(MemberIn), required=True, validate=ma.validate.Length(min=1, max=30))


class MemberOut(Out):
    staff_id = ma.fields.Integer()
    name = ma.fields.String()
    role = ma.fields.String()


class TeamOut(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()
    institution_id = ma.fields.Integer()
    leader = ma.fields.Nested(MemberOut, allow_none=True)
    members = ma.fields.List(ma.fields.Nested(MemberOut))


class TeamListArgs(Strict):
    institution_id = ma.fields.Integer()


class StaffIn(Strict):
    username = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$"))
    name = name_field(50, required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=128))
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES)), required=True, validate=ma.validate.Length(min=1)
    )
    institution_id = ma.fields.Integer(required=True)
    phone = ma.fields.String(validate=ma.validate.Regexp(r"^1[3-9]\d{9}$"))


class StaffPatchIn(Strict):
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES)), validate=ma.validate.Length(min=1)
    )
    active = ma.fields.Boolean()
    name = name_field(50)


class StaffOut(Out):
    id = ma.fields.Integer()
    username = ma.fields.String()
    name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    institution_id = ma.fields.Integer()
    active = ma.fields.Boolean()


class StaffListArgs(Strict):
    institution_id = ma.fields.Integer()
