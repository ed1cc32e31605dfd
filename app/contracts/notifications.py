"""Message kinds the contracts feature sends (registered at app start by routes.py)."""

from app.notify.templates import register

register(
    "contract_signed",
    title="签约成功通知",
    page="pages/contract/detail",
    fields={"thing1": "team", "date2": "starts_on", "date3": "ends_on"},
)
register(
    "contract_rejected",
    title="签约审核结果",
    page="pages/contract/detail",
    fields={"thing1": "team", "thing2": "reason"},
)
register(
    "contract_renewal_due",
    title="签约到期续约提醒",
    page="pages/contract/renew",
    fields={"thing1": "team", "date2": "ends_on", "thing3": "title"},
)
register(
    "contract_applied",
    title="新的签约申请",
    page="pages/doctor/contracts",
    fields={"thing1": "team", "date2": "applied_on"},
    audience="staff",
)
