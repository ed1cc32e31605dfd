import marshmallow as ma

from app.common.schemas import Out, Strict
from app.residents.schemas import ResidentOut


class WechatLoginIn(Strict):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class BindIn(Strict):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=50))
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=18))
    phone = ma.fields.String(validate=ma.validate.Length(min=1, max=20))
    phone_code = ma.fields.String(validate=ma.validate.Length(min=1, max=128))


class StaffLoginIn(Strict):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128), load_only=True)
    device_token = ma.fields.String(
        validate=ma.validate.Length(min=1, max=300),
        load_only=True,
        metadata={
            "description": "the `device_token` of this device's last successful login: "
            "exempts it from the per-address and per-username failure limits"
        },
    )


class AccountOut(Out):
    id = ma.fields.Integer()
    bound = ma.fields.Boolean()
    resident_id = ma.fields.Integer(allow_none=True)


class WechatLoginOut(Out):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    account = ma.fields.Nested(AccountOut)


class StaffBrief(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    institution_id = ma.fields.Integer()
    team_ids = ma.fields.List(ma.fields.Integer())


class StaffLoginOut(Out):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    device_token = ma.fields.String(
        metadata={"description": "keep it on the device and send it with the next login (valid 180 days)"}
    )
    staff = ma.fields.Nested(StaffBrief)


class RefreshOut(Out):
    access_token = ma.fields.String()


class BindOut(Out):
    resident = ma.fields.Nested(ResidentOut)
