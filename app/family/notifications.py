"""Message kinds of family access (template ids come from WECHAT_TEMPLATES in production)."""

from app.notify import templates

templates.register(
    "family_request",
    title="家人查看档案申请",
    page="pages/family/requests",
    fields={"thing1": "title", "name2": "requester", "time3": "when"},
)
templates.register(
    "family_grant_active",
    title="家人档案查看已开通",
    page="pages/family/index",
    fields={"thing1": "title", "name2": "person", "time3": "when"},
)
