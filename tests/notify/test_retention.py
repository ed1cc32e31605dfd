"""Outbox retention: finished rows past OUTBOX_RETENTION_DAYS go with their attempts; the inbox stays."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.notify import services as notify
from app.notify.models import DeliveryAttempt, Outbox
from app.notify.retention import expire_outbox
from tests.notify.helpers import dispatch, enqueue, grant_credit

CST = timezone(timedelta(hours=8))
MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=CST)
RUN_AT = MORNING + timedelta(days=100)  # the default keeps 90 days


def build(api, world, app):
    """Old: one sent through WeChat, one withdrawn, one still pending for later; recent: one sent."""
    grant_credit(api, "alice")
    with frozen(MORNING):
        enqueue(app, world.alice, "old-sent", title="旧提醒")
        enqueue(app, world.alice, "old-withdrawn", title="撤回")
        enqueue(app, world.alice, "old-pending", not_before=RUN_AT + timedelta(days=30), title="将来")
        with app.app_context():
            notify.withdraw("old-withdrawn")
            db.session.commit()
        dispatch(app)
    with frozen(RUN_AT - timedelta(days=10)):
        enqueue(app, world.alice, "recent-sent", title="新提醒")
        dispatch(app)


def outbox_keys(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Outbox.dedup_key).order_by(Outbox.dedup_key)).all()


def inbox_titles(api) -> list[str]:
    r = api.get("alice", "/api/v1/me/messages")
    assert r.status_code == 200
    return sorted(m["title"] for m in r.json["items"])


def test_the_daily_job_deletes_old_finished_rows_and_keeps_the_inbox(api, world, app, wechat_sandbox):
    build(api, world, app)
    assert inbox_titles(api) == sorted(["旧提醒", "新提醒"])

    result = app.test_cli_runner().invoke(
        args=["scheduler", "run-once", "outbox-retention", "--at", RUN_AT.isoformat()]
    )

    assert result.exit_code == 0, result.output
    assert "'deleted': 2" in result.output
    assert outbox_keys(app) == ["old-pending", "recent-sent"]
    with app.app_context():
        orphans = (
            select(func.count()).select_from(DeliveryAttempt).where(~DeliveryAttempt.outbox_id.in_(select(Outbox.id)))
        )
        assert db.session.scalar(orphans) == 0
    # The resident's inbox does not depend on the outbox rows.
    assert inbox_titles(api) == sorted(["旧提醒", "新提醒"])


@pytest.mark.parametrize("batch_size", [1, 2])
def test_small_batches_reach_the_same_result(api, world, app, wechat_sandbox, batch_size):
    build(api, world, app)
    with app.app_context(), frozen(RUN_AT):
        assert expire_outbox(batch_size=batch_size)["deleted"] == 2
    assert outbox_keys(app) == ["old-pending", "recent-sent"]
