"""A lease in the database elects one active scheduler among any number of processes.

A lease (not a PostgreSQL advisory lock) so the same mechanism works on SQLite, and
so a process that hangs — not only one that dies — loses the lead when it stops
renewing. Uses wall-clock time, not the application clock, which tests may freeze.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.scheduler.models import SchedulerLock

NAME = "scheduler"


def _wall_now() -> datetime:
    return datetime.now(UTC)


def acquire(holder: str, lease_seconds: int) -> bool:
    """Take or renew the lease; True while this holder leads."""
    at = _wall_now()
    until = at + timedelta(seconds=lease_seconds)
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(SchedulerLock)
            .where(SchedulerLock.name == NAME, or_(SchedulerLock.holder == holder, SchedulerLock.lease_until < at))
            .values(holder=holder, lease_until=until, heartbeat_at=at)
        ).rowcount
    if taken:
        return True
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(SchedulerLock).values(name=NAME, holder=holder, lease_until=until, heartbeat_at=at))
        return True
    except IntegrityError:
        return False


def release(holder: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            update(SchedulerLock)
            .where(SchedulerLock.name == NAME, SchedulerLock.holder == holder)
            .values(lease_until=_wall_now() - timedelta(seconds=1))
        )


def current_holder() -> tuple[str, datetime] | None:
    row = db.session.get(SchedulerLock, NAME, populate_existing=True)
    return (row.holder, row.lease_until) if row else None
