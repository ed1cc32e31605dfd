"""Message kinds the surveys feature sends (registered at app start: imported by services/routes)."""

from app.notify.templates import register

SURVEY_INVITATION = "survey_invitation"

register(
    SURVEY_INVITATION,
    title="问卷调查邀请",
    page="pages/survey/answer",
    fields={"thing1": "title", "thing2": "institution", "date3": "closes_on"},
)
