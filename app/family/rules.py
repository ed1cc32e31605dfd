"""The rules of family access (PIPL): when a guardian's automatic access ends, when an unanswered
request expires, who is awaited — as they hold now, before the daily job has stored them.

PIPL: health data and a child's data are sensitive (art. 28); a child under 14 is consented for
by the guardian (art. 31), anyone else consents for themself (art. 29).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_

from app.common.time import age_on, now, today, years_before
from app.errors import Forbidden
from app.family.models import FamilyGrant
from app.residents.models import Resident

CHILD_CONSENT_AGE = 14  # PIPL art. 31
ADULT_AGE = 18
REQUEST_TTL_DAYS = 30  # a request nobody answered expires
LIVE = ("pending", "active")


def outgrown_clause(day):
    """SQL: an active guardian_auto grant whose child is now 14 or older (over ``Resident`` = subject)."""
    return and_(
        FamilyGrant.status == "active",
        FamilyGrant.basis == "guardian_auto",
        Resident.birth_on <= years_before(day, CHILD_CONSENT_AGE),
    )


def effective_status(grant: FamilyGrant, subject_birth_on, *, at=None, day=None) -> str:
    """The status as it holds right now, before the daily job has stored it."""
    at, day = at or now(), day or today()
    if (
        grant.status == "active"
        and grant.basis == "guardian_auto"
        and age_on(subject_birth_on, day) >= CHILD_CONSENT_AGE
    ):
        return "pending"
    if grant.status == "pending" and grant.requested_at < at - timedelta(days=REQUEST_TTL_DAYS):
        return "expired"
    return grant.status


def awaiting(status: str, subject_birth_on, day=None) -> str | None:
    if status != "pending":
        return None
    return "staff" if age_on(subject_birth_on, day or today()) < CHILD_CONSENT_AGE else "resident"


def bound_resident_id(actor) -> int:
    """The archive the account is bound to: family access is asked and answered from one."""
    if actor.resident_id is None:
        raise Forbidden("bind your own archive first", error="account_not_bound")
    return actor.resident_id
