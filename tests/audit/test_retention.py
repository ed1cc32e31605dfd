"""Access-log retention: exactly the rows older than ACCESS_LOG_RETENTION_DAYS go, none younger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.models import AccessLog
from app.audit.retention import expire_access_log
from app.common.time import freeze, frozen
from app.extensions import db
from tests.archive.helpers import fresh_id_sequence  # noqa: F401  (autouse)

RUN_AT = datetime(2028, 6, 1, 19, 20, tzinfo=UTC)  # 03:20 in Shanghai
CUTOFF = RUN_AT - timedelta(days=1096)  # the default: three years and a day


def read_archive(api, world, at: datetime) -> None:
    freeze(at)
    assert api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive").status_code == 200


def log_times(api, world) -> list[datetime]:
    freeze(RUN_AT)
    r = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive/access-log", query_string={"per_page": 50})
    assert r.status_code == 200, r.json
    return sorted(datetime.fromisoformat(item["at"]) for item in r.json["items"])


def test_the_daily_job_deletes_exactly_the_rows_older_than_the_period(api, world, app):
    old = [CUTOFF - timedelta(days=400), CUTOFF - timedelta(seconds=1)]
    kept = [CUTOFF, CUTOFF + timedelta(seconds=1), RUN_AT - timedelta(days=1)]
    for at in old + kept:
        read_archive(api, world, at)
    assert log_times(api, world) == old + kept
    freeze(None)

    result = app.test_cli_runner().invoke(
        args=["scheduler", "run-once", "access-log-retention", "--at", RUN_AT.isoformat()]
    )

    assert result.exit_code == 0, result.output
    assert "'deleted': 2" in result.output
    assert log_times(api, world) == kept


def test_the_period_is_configurable(api, world, app, monkeypatch):
    read_archive(api, world, RUN_AT - timedelta(days=31))
    read_archive(api, world, RUN_AT - timedelta(days=29))
    monkeypatch.setitem(app.config, "ACCESS_LOG_RETENTION_DAYS", 30)
    with app.app_context(), frozen(RUN_AT):
        assert expire_access_log()["deleted"] == 1
    assert log_times(api, world) == [RUN_AT - timedelta(days=29)]


def test_batches_split_rows_of_one_instant_without_losing_or_keeping_any(app, world):
    """A bulk read writes many rows with the same ``at``; batch boundaries fall inside them."""
    with app.app_context():
        for at in (CUTOFF - timedelta(days=2), CUTOFF - timedelta(microseconds=1), CUTOFF, CUTOFF + timedelta(days=1)):
            with frozen(at):
                audit.record_many(None, [world.grandpa] * 9, action="read", section="indicators", purpose="statistics")
        db.session.commit()
        with frozen(RUN_AT):
            result = expire_access_log(batch_size=4)
        assert result["deleted"] == 18 and result["batches"] == 5
        left = db.session.scalars(select(AccessLog.at).order_by(AccessLog.at)).all()
        assert len(left) == 18 and min(left) == CUTOFF
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(AccessLog.at < CUTOFF)) == 0


@pytest.mark.parametrize("name", ["ACCESS_LOG_RETENTION_DAYS", "OUTBOX_RETENTION_DAYS"])
def test_a_period_of_zero_days_refuses_to_start(monkeypatch, name):
    """0 would make the next run delete the whole table: the process must not start."""
    from config import ConfigError, load_config

    monkeypatch.setenv(name, "0")
    with pytest.raises(ConfigError, match=name):
        load_config("testing")
