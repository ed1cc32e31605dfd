"""Message kinds the follow-up feature sends (registered when imported: ``app.wiring`` imports it)."""

from app.notify.templates import register

WINDOW_OPEN = register(
    "followup_window_open",
    title="慢病随访提醒",
    page="pages/followup/index",
    fields={"thing1": "item", "date2": "opens_on", "date3": "due_on", "thing4": "team"},
)
WINDOW_CLOSING = register(
    "followup_window_closing",
    title="随访即将到期",
    page="pages/followup/index",
    fields={"thing1": "item", "date2": "due_on", "thing3": "team"},
)
TEAM_DIGEST = register(
    "followup_team_digest", title="今日随访工作清单", page="pages/doctor/followups", audience="staff"
)
# the yearly checks (app.followups.checkups): the elderly's and the disabled's health check, TCM
CHECKUP_DUE = register(
    "checkup_window_open",
    title="年度健康体检提醒",
    page="pages/checkup/index",
    fields={"thing1": "item", "date2": "opens_on", "date3": "due_on", "thing4": "team"},
)
CHECKUP_CLOSING = register(
    "checkup_window_closing",
    title="年度体检即将到期",
    page="pages/checkup/index",
    fields={"thing1": "item", "date2": "due_on", "thing3": "team"},
)
# the children's checks (app.followups.child_plans), to the guardians
CHILD_CHECK_DUE = register(
    "child_check_window_open",
    title="儿童健康检查提醒",
    page="pages/child/index",
    fields={"thing1": "item", "date2": "opens_on", "date3": "due_on", "thing4": "team"},
)
CHILD_CHECK_CLOSING = register(
    "child_check_window_closing",
    title="儿童健康检查即将到期",
    page="pages/child/index",
    fields={"thing1": "item", "date2": "due_on", "thing3": "team"},
)
