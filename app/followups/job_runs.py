"""What the follow-up feature's daily jobs share (the jobs: ``plans_job``, ``reminders_job``,
``digest_job``; listed in ``app.scheduler.jobs``).

Each job is a plain function (``today`` may be given for catch-up runs and tests; it defaults to
``app.common.time.today()``), works set-based — one query to find, bulk statements to change —
commits once and is idempotent: a second run on the same day changes and enqueues nothing.
"""

from __future__ import annotations

import logging
from datetime import date

from app.extensions import db

log = logging.getLogger(__name__)

DISEASE_NAMES = {"hypertension": "高血压", "t2dm": "糖尿病"}


def commit_run(counts: dict, name: str, day: date) -> dict:
    """Commit the job's one transaction (roll back on failure) and log what it did."""
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("followups %s for %s: %s", name, day, counts)
    return counts
