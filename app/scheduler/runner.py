"""The scheduler process: APScheduler's BlockingScheduler behind a leader lease."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app.extensions import db
from app.scheduler import lock
from app.scheduler.jobs import JOBS, JobSpec

log = logging.getLogger("app.scheduler")


def make_trigger(spec: JobSpec, tz: str):
    if spec.trigger == "cron":
        return CronTrigger(timezone=tz, **spec.trigger_args)
    return IntervalTrigger(timezone=tz, **spec.trigger_args)


def run_job(app: Flask, spec: JobSpec):
    """Run one job in its own app context and session, with a log line per run."""
    with app.app_context():
        started = time.monotonic()
        try:
            result = spec.function()()
            db.session.commit()
            log.info("job %s done in %.2fs: %s", spec.id, time.monotonic() - started, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("job %s failed after %.2fs", spec.id, time.monotonic() - started)
            raise
        finally:
            db.session.remove()


class SchedulerProcess:
    def __init__(self, app: Flask):
        self.app = app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = int(app.config.get("SCHEDULER_LEASE_SECONDS", 30))
        self.tz = app.config["TZ_NAME"]
        self.stopping = False
        self.scheduler: BlockingScheduler | None = None

    def _acquire(self) -> bool:
        with self.app.app_context():
            return lock.acquire(self.holder, self.lease)

    def _heartbeat(self) -> None:
        if self.stopping:  # a stop signal that came while the scheduler was starting
            self.scheduler.shutdown(wait=False)
        elif not self._acquire():
            log.warning("scheduler %s lost the lead; standing by", self.holder)
            self.scheduler.shutdown(wait=False)

    def _build(self) -> BlockingScheduler:
        scheduler = BlockingScheduler(
            timezone=self.tz, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )
        for spec in JOBS:
            scheduler.add_job(
                run_job,
                make_trigger(spec, self.tz),
                args=[self.app, spec],
                id=spec.id,
                name=spec.description,
                replace_existing=True,
            )
        scheduler.add_job(
            self._heartbeat,
            IntervalTrigger(seconds=max(1, self.lease // 3), timezone=self.tz),
            id="scheduler-heartbeat",
            replace_existing=True,
        )
        return scheduler

    def _stop(self, *_args) -> None:
        self.stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def run(self, poll_seconds: float = 2.0) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        log.info("scheduler %s starting", self.holder)
        try:
            while not self.stopping:
                if not self._acquire():
                    time.sleep(poll_seconds)
                    continue
                log.info("scheduler %s leads; %d jobs", self.holder, len(JOBS))
                self.scheduler = self._build()
                if self.stopping:  # the signal came while it was being built
                    break
                # Blocks until shutdown (signal or lost lease). A signal between the check above
                # and the start finds the scheduler not yet running: the next heartbeat stops it.
                self.scheduler.start()
        finally:
            with self.app.app_context():
                lock.release(self.holder)
            log.info("scheduler %s stopped", self.holder)
