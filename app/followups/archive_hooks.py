"""What the archive reads from this feature (registered in ``app.wiring``): the archive's
"followups" section and follow-up visits as archive activity."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.followups.contacts import contacts_of
from app.followups.history import resident_followups
from app.followups.models import FollowupVisit


def archive_section(resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's "followups" (the archive writes the access-log row), in the
    shape of ``ResidentFollowupsOut`` (GET …/followups dumps the same body through that schema)."""
    return "followups", resident_followups(resident, 1, args.get("per_page") or 10)


def contacts_section(resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's "contacts" — the latest contact attempts, newest first — for
    staff only: a doctor's notes and an unconfirmed report of a death are not the family's to read."""
    if not args["actor"].is_staff:
        return None
    return "contacts", contacts_of(resident.id, limit=args.get("per_page") or 10)


def activity_source(since: date, until: date):
    """archive.metrics.ACTIVITY_SOURCES hook: a follow-up visit is archive activity."""
    return select(FollowupVisit.resident_id.label("resident_id")).where(
        FollowupVisit.visit_on >= since, FollowupVisit.visit_on <= until
    )
