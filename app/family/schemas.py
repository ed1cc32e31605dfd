import marshmallow as ma

from app.common.schemas import Out, Strict
from app.family.models import GRANT_STATUSES, RELATIONS

_list = ma.fields.List


class GrantRequestIn(Strict):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=50))
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=18))
    relation = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(RELATIONS),
        metadata={"description": "what that person is to me: child, parent, spouse…"},
    )


class ConfirmIn(Strict):
    note = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "what was checked in person, e.g. household register (户口簿)"},
    )


class StaffGrantListArgs(Strict):
    resident_id = ma.fields.Integer(required=True, metadata={"description": "the archive the grants open"})
    status = ma.fields.String(validate=ma.validate.OneOf(GRANT_STATUSES))


class GrantOut(Out):
    """A person this account may view (or has asked to view)."""

    grant_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    relation = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending | active | revoked | expired"})
    basis = ma.fields.String(allow_none=True, metadata={"description": "guardian_auto | accepted | staff_confirmed"})
    origin = ma.fields.String(metadata={"description": "request | turned_14"})
    awaiting = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "while pending: 'resident' (the person accepts on their phone, or staff confirm in "
            "person) or 'staff' (a child under 14: confirmed in person only)"
        },
    )
    requested_at = ma.fields.DateTime()
    accepted_at = ma.fields.DateTime(allow_none=True)


class RequestOut(Out):
    """Someone asking to view my archive (or viewing it)."""

    grant_id = ma.fields.Integer()
    name = ma.fields.String(metadata={"description": "the account holder's name"})
    relation = ma.fields.String(metadata={"description": "what I am to them, as they stated it"})
    status = ma.fields.String()
    basis = ma.fields.String(allow_none=True)
    origin = ma.fields.String()
    requested_at = ma.fields.DateTime()
    accepted_at = ma.fields.DateTime(allow_none=True)


class StaffGrantOut(Out):
    grant_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    grantor_resident_id = ma.fields.Integer()
    grantor_name = ma.fields.String()
    relation = ma.fields.String()
    status = ma.fields.String()
    basis = ma.fields.String(allow_none=True)
    origin = ma.fields.String()
    requested_at = ma.fields.DateTime()
    accepted_at = ma.fields.DateTime(allow_none=True)
    confirmed_by_staff_id = ma.fields.Integer(allow_none=True)
    confirmed_at = ma.fields.DateTime(allow_none=True)
    confirmation_note = ma.fields.String(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoked_by = ma.fields.String(allow_none=True)
