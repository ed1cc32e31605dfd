"""Outbox retention: finished rows older than ``OUTBOX_RETENTION_DAYS`` go, with their attempts.

Only rows the dispatcher is done with (sent, failed, skipped) and whose last activity
(``sent_at``, else the last ``next_attempt_at``) is older than the cut-off; a pending or
sending row is never touched. The inbox messages those rows wrote are another table and
stay: the resident's inbox does not depend on the outbox row.

Batches walk the primary key (at most ``BATCH_SIZE`` rows per DELETE, each committed),
so a run over millions of rows holds no long transaction; the dispatcher's claim index
covers only undelivered rows and never sees these.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, select

from app.common.time import now
from app.extensions import db
from app.notify.models import FINISHED, DeliveryAttempt, Outbox

BATCH_SIZE = 10_000


def expire_outbox(batch_size: int = BATCH_SIZE) -> dict:
    """Daily job: delete finished outbox rows (and their delivery attempts) past retention."""
    limit = now() - timedelta(days=current_app.config["OUTBOX_RETENTION_DAYS"])
    old = and_(Outbox.status.in_(FINISHED), func.coalesce(Outbox.sent_at, Outbox.next_attempt_at) < limit)
    after, deleted, batches = 0, 0, 0
    while True:
        # The last id of the next batch; none means fewer than a batch are left.
        last = db.session.scalar(
            select(Outbox.id).where(old, Outbox.id > after).order_by(Outbox.id).offset(batch_size - 1).limit(1)
        )
        batch = select(Outbox.id).where(old, Outbox.id > after)
        if last is not None:
            batch = batch.where(Outbox.id <= last)
        # Attempts first: SQLite enforces the foreign key, and the cascade would be per row anyway.
        db.session.execute(
            delete(DeliveryAttempt)
            .where(DeliveryAttempt.outbox_id.in_(batch.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        count = db.session.execute(
            delete(Outbox).where(Outbox.id.in_(batch.scalar_subquery())).execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        deleted, batches = deleted + max(count, 0), batches + 1
        if last is None:
            return {"deleted": deleted, "batches": batches, "cutoff": limit.isoformat()}
        after = last
