"""Helpers for reminder tests: a registered test kind, enqueueing, dispatching."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.notify import services as notify
from app.notify import templates
from app.notify.dispatcher import drain
from app.notify.models import Outbox

KIND = "pipeline_check"
TEMPLATE = templates.register(
    KIND,
    title="随访提醒",
    template_id="tmpl-pipeline-check",
    page="pages/followup/index",
    fields={"thing1": "title", "time2": "when"},
)

SEND = "/cgi-bin/message/subscribe/send"


def enqueue(app, resident_id: int, key: str, not_before: datetime | None = None, title="请按时随访") -> bool:
    with app.app_context():
        added = notify.enqueue(
            notify.resident(resident_id),
            KIND,
            key,
            {"title": title, "body": "您的随访窗口已开启", "when": "2026-12-01 09:00"},
            not_before,
        )
        db.session.commit()
        return added


def dispatch(app):
    with app.app_context():
        return drain()


def row(app, key: str) -> Outbox:
    with app.app_context():
        found = db.session.scalar(select(Outbox).where(Outbox.dedup_key == key))
        db.session.expunge(found)
        return found


def grant_credit(api, who: str, times: int = 1) -> None:
    for _ in range(times):
        r = api.post(who, "/api/v1/me/subscriptions", json={"accepted": [TEMPLATE.template_id]})
        assert r.status_code == 200, r.json
