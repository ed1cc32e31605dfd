"""Several dispatchers, and several scheduler processes, never do the same work twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from app.accounts.models import WechatAccount
from app.common.ids import vault
from app.common.time import frozen
from app.extensions import db
from app.notify import services as notify
from app.notify.dispatcher import drain
from app.notify.models import Outbox, SubscriptionCredit
from app.residents.models import Resident
from app.scheduler.models import SchedulerLock
from tests.notify.helpers import KIND, TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8)))
N = 2000


def _population(app, institution_id: int) -> None:
    """N residents with bound WeChat accounts, one credit each, one reminder each."""
    with app.app_context():
        secret = vault().encrypt("0")
        db.session.execute(
            insert(Resident),
            [
                {
                    "id": 10_000 + i,
                    "archive_no": f"BULK{i:06d}",
                    "name": f"居民{i}",
                    "id_number_enc": secret,
                    "id_number_hash": f"h{i:063d}",
                    "sex": "male",
                    "birth_on": datetime(1970, 1, 1).date(),
                    "institution_id": institution_id,
                    "residency_type": "registered",
                    "status": "active",
                }
                for i in range(N)
            ],
        )
        db.session.execute(
            insert(WechatAccount),
            [{"id": 10_000 + i, "openid": f"bulk-{i}", "resident_id": 10_000 + i} for i in range(N)],
        )
        db.session.execute(
            insert(SubscriptionCredit),
            [{"account_id": 10_000 + i, "template_id": TEMPLATE.template_id, "credits": 1} for i in range(N)],
        )
        notify.enqueue_many(
            [
                (
                    notify.resident(10_000 + i),
                    KIND,
                    f"bulk:{i}",
                    {"title": "提醒", "body": "x", "when": "2026-12-01"},
                    None,
                )
                for i in range(N)
            ]
        )
        db.session.commit()


def test_two_dispatchers_drain_2000_rows_without_duplicates(app, world, wechat_sandbox):
    with frozen(MORNING):
        _population(app, world.a)
    errors = []

    def worker():
        try:
            with app.app_context(), frozen(MORNING):
                drain(limit=50)
        except Exception as err:  # surfaced below
            errors.append(err)

    with frozen(MORNING):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert errors == []
    sent = wechat_sandbox.messages()
    assert len(sent) == N
    assert len({m["touser"] for m in sent}) == N
    with app.app_context():
        statuses = db.session.scalars(select(Outbox.status)).all()
    assert statuses.count("sent") == N


def _start_scheduler(env, log_path):
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
    )


def _holder(app):
    with app.app_context():
        row = db.session.scalar(select(SchedulerLock))
        db.session.remove()
        return row.holder if row else None


def _wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def test_second_scheduler_stands_by_and_takes_over(app, world, tmp_path, wechat_sandbox_server):
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "SCHEDULER_LEASE_SECONDS": "3",
        "WECHAT_API_BASE": wechat_sandbox_server.url,
    }
    first = _start_scheduler(env, tmp_path / "first.log")
    try:
        holder = _wait_for(lambda: _holder(app))
        assert holder.split(":")[1] == str(first.pid)
        second = _start_scheduler(env, tmp_path / "second.log")
        try:
            time.sleep(5)  # longer than a lease: the first keeps renewing, the second waits
            assert _holder(app).split(":")[1] == str(first.pid)
            first.send_signal(signal.SIGKILL)  # dies without releasing
            first.wait(10)
            new_holder = _wait_for(lambda: (h := _holder(app)) and h.split(":")[1] == str(second.pid) and h)
            assert new_holder.split(":")[1] == str(second.pid)
            first_log = (tmp_path / "first.log").read_text()
            second_log = (tmp_path / "second.log").read_text()
            assert "leads" in first_log and "leads" in second_log
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
    finally:
        if first.poll() is None:
            first.kill()


def test_a_stop_signal_while_taking_the_lead_still_stops_the_scheduler(app, monkeypatch):
    """SIGTERM can arrive after the lease is won and before the scheduler has started: the process
    must still stop (it used to run on, deaf to the signal, until killed)."""
    import threading

    from app.scheduler import runner

    monkeypatch.setitem(app.config, "SCHEDULER_LEASE_SECONDS", 3)
    process = runner.SchedulerProcess(app)
    monkeypatch.setattr(runner.signal, "signal", lambda *args: None)  # handlers belong to the main thread
    build = process._build

    def build_then_signal():
        scheduler = build()
        process._stop()  # what the SIGTERM handler does, arriving right now
        return scheduler

    monkeypatch.setattr(process, "_build", build_then_signal)
    thread = threading.Thread(target=process.run, kwargs={"poll_seconds": 0.2}, daemon=True)
    thread.start()
    thread.join(10)
    stopped = not thread.is_alive()
    if not stopped and process.scheduler is not None:
        process.scheduler.shutdown(wait=False)  # do not leave it running in the test process
    assert stopped
