"""Message kinds the follow-up feature sends (registered when imported: ``app.wiring`` imports it)."""

from app.notify.templates import register


def _window_pair(kind: str, title_open: str, title_closing: str, page: str):
    """A service line's two reminders: its window opened (``{kind}_window_open``), it closes soon."""
    return (
        register(
            f"{kind}_window_open",
            title=title_open,
            page=page,
            fields={"thing1": "item", "date2": "opens_on", "date3": "due_on", "thing4": "team"},
        ),
        register(
            f"{kind}_window_closing",
            title=title_closing,
            page=page,
            fields={"thing1": "item", "date2": "due_on", "thing3": "team"},
        ),
    )


WINDOW_OPEN, WINDOW_CLOSING = _window_pair("followup", "慢病随访提醒", "随访即将到期", "pages/followup/index")
TEAM_DIGEST = register(
    "followup_team_digest", title="今日随访工作清单", page="pages/doctor/followups", audience="staff"
)

# the yearly checks (app.followups.checkups): the elderly's and the disabled's health check, TCM
CHECKUP_DUE, CHECKUP_CLOSING = _window_pair("checkup", "年度健康体检提醒", "年度体检即将到期", "pages/checkup/index")
# the children's checks (app.followups.child_plans), to the guardians
CHILD_CHECK_DUE, CHILD_CHECK_CLOSING = _window_pair(
    "child_check", "儿童健康检查提醒", "儿童健康检查即将到期", "pages/child/index"
)
# the antenatal and postpartum visits (app.followups.maternal_plans), to the woman
MATERNAL_DUE, MATERNAL_CLOSING = _window_pair(
    "maternal", "孕产妇健康管理提醒", "孕产期检查即将到期", "pages/maternal/index"
)
# the follow-up owed within 2 weeks of a patient's return from hospital (app.referrals), to the resident
REFERRAL_RETURN_DUE, REFERRAL_RETURN_CLOSING = _window_pair(
    "referral_return", "转诊回转随访提醒", "回转随访即将到期", "pages/followup/index"
)
