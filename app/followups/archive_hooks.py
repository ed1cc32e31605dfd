"""What the archive reads from this feature (registered in ``app.wiring``): the archive's
"followups" section and follow-up visits as archive activity."""

from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import select

from app.followups.history import resident_followups
from app.followups.models import FollowupVisit
from app.followups.schemas import ResidentFollowupsOut
from app.residents.models import Resident


def archive_section(resident: Resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's "followups" (the archive writes the access-log row).

    Serialised here (the archive's field is raw JSON) with the same schema as GET …/followups."""
    return "followups", _archive_schema().dump(resident_followups(resident, 1, args.get("per_page") or 10))


@functools.cache
def _archive_schema():
    """One schema instance for every archive read: building one (nested fields included) per read cost
    more CPU than dumping with it."""
    return ResidentFollowupsOut()


def activity_source(since: date, until: date):
    """archive.metrics.ACTIVITY_SOURCES hook: a follow-up visit is archive activity."""
    return select(FollowupVisit.resident_id.label("resident_id")).where(
        FollowupVisit.visit_on >= since, FollowupVisit.visit_on <= until
    )
