"""Kinds notify itself sends: free-text health reminders from the care team."""

from app.notify import templates

HEALTH_REMINDER = templates.register(
    "health_reminder",
    title="健康提醒",
    page="pages/messages/index",
    fields={"thing1": "title", "thing2": "team", "time3": "when"},
)
