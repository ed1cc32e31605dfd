import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.schemas import Out, Strict, name_field


class SubscriptionOut(Out):
    kind = ma.fields.String()
    template_id = ma.fields.String()
    title = ma.fields.String()
    credits = ma.fields.Integer()


class SubscriptionsIn(Strict):
    accepted = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)), required=True, validate=ma.validate.Length(max=20)
    )


class MessageOut(Out):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    data = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


class MessageArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False)


class MessagePage(Out):
    items = ma.fields.List(ma.fields.Nested(MessageOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    unread = ma.fields.Integer()


class HealthReminderIn(Strict):
    title = name_field(40, required=True)
    body = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    not_before = ma.fields.AwareDateTime(load_default=None)


class HealthReminderOut(Out):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    status = ma.fields.String()
    not_before = ma.fields.DateTime()
