"""Access-log retention: rows older than ``ACCESS_LOG_RETENTION_DAYS`` are deleted, in batches.

The log must be complete for the whole period (PIPL art. 51; health-record rules), so the
cut-off is computed once per run from the clock and nothing at or after it is touched.
Each batch is one DELETE of at most ``BATCH_SIZE`` rows, a range of the (at, id) index,
committed on its own: a run over tens of millions of old rows holds no long transaction
and no lock on rows being written (new rows are always younger than the cut-off).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, tuple_

from app.audit.models import AccessLog
from app.common.time import now
from app.extensions import db

BATCH_SIZE = 10_000


def cutoff():
    return now() - timedelta(days=current_app.config["ACCESS_LOG_RETENTION_DAYS"])


def expire_access_log(batch_size: int = BATCH_SIZE) -> dict:
    """Daily job: delete access-log rows older than the retention period, batch by batch."""
    limit, deleted, batches = cutoff(), 0, 0
    old = AccessLog.at < limit
    while True:
        # The last (at, id) of the next batch; none means fewer than a batch are left.
        last = db.session.execute(
            select(AccessLog.at, AccessLog.id)
            .where(old)
            .order_by(AccessLog.at, AccessLog.id)
            .offset(batch_size - 1)
            .limit(1)
        ).first()
        stmt = delete(AccessLog).where(old)
        if last is not None:
            stmt = stmt.where(tuple_(AccessLog.at, AccessLog.id) <= tuple_(last.at, last.id))
        count = db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        deleted, batches = deleted + max(count, 0), batches + 1
        if last is None:
            return {"deleted": deleted, "batches": batches, "cutoff": limit.isoformat()}
