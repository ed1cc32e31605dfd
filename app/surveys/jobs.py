"""The surveys' periodic work: invite residents who joined a running survey's target.

A survey invites its target when it is published; residents who enter the target while it
is still running (a new archive in the subtree, a new diagnosis, a newly signed contract, a
65th birthday) are invited by this job. Set-based (one INSERT … SELECT per running survey)
and idempotent: invitations are unique per survey and resident and reminders are
deduplicated (``survey:<id>:<resident_id>``), so a second run adds nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.common.time import now, today
from app.extensions import db
from app.surveys.models import Survey
from app.surveys.publishing import invite

log = logging.getLogger(__name__)


def invite_newcomers() -> dict:
    """Scheduler job ``app.surveys.jobs:invite_newcomers`` (daily)."""
    day, at = today(), now()
    try:
        running = db.session.scalars(
            select(Survey).where(Survey.status == "published", Survey.closes_on >= day).order_by(Survey.id)
        ).all()
        invited = enqueued = 0
        for survey in running:  # a handful of surveys; each is one set-based statement
            added, queued = invite(survey, day, at)
            invited += added
            enqueued += queued
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    counts = {"surveys": len(running), "invited": invited, "enqueued": enqueued}
    log.info("surveys: newcomers invited %s", counts)
    return counts
