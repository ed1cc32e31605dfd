"""Message kinds of appointments (template ids come from WECHAT_TEMPLATES in production).

Payload keys every appointment message carries: ``title``, ``body`` (inbox text),
``service_name``, ``when`` (local "YYYY-MM-DD HH:MM"), ``place`` (team · institution),
``person`` (whose appointment), ``appointment_id`` and ``page`` (deep link).
"""

from app.notify import templates

DAY_BEFORE = "appointment_day_before"
SOON = "appointment_soon"
CANCELLED = "appointment_cancelled"
DAY_LIST = "appointment_day_list"

templates.register(
    DAY_BEFORE,
    title="预约就诊提醒",
    page="pages/appointments/detail",
    fields={"thing1": "service_name", "time2": "when", "thing3": "place", "name4": "person"},
)
templates.register(
    SOON,
    title="预约即将开始",
    page="pages/appointments/detail",
    fields={"thing1": "service_name", "time2": "when", "thing3": "place", "name4": "person"},
)
templates.register(
    CANCELLED,
    title="预约取消通知",
    page="pages/appointments/index",
    fields={"thing1": "service_name", "time2": "when", "thing3": "reason", "name4": "person"},
)
templates.register(
    DAY_LIST,
    title="明日预约名单",
    page="pages/doctor/appointments",
    fields={"thing1": "title", "date2": "day"},
    audience="staff",
)
