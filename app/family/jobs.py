"""Daily family-access housekeeping (set-based; safe to run twice).

- The 14th birthday (PIPL art. 31): a guardian's automatic grant (``guardian_auto``) on a child
  who is now 14 becomes a pending request the young person can accept (``origin`` turned_14).
  Reads already stop at the birthday (``services.granted_resident_ids``); this job stores it,
  tells the young person, and writes the change to their access log.
- Requests nobody answered within ``REQUEST_TTL_DAYS`` expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.audit import services as audit
from app.common.time import local_tz, now
from app.extensions import db
from app.family.models import FamilyGrant
from app.family.rules import REQUEST_TTL_DAYS, outgrown_clause
from app.notify import services as notify
from app.residents.models import Resident


def family_grants_daily(at: datetime | None = None) -> dict:
    """Run the two transitions as of ``at`` (default now); returns counts."""
    at = at or now()
    day = at.astimezone(local_tz()).date()

    expired = db.session.execute(
        update(FamilyGrant)
        .where(FamilyGrant.status == "pending", FamilyGrant.requested_at < at - timedelta(days=REQUEST_TTL_DAYS))
        .values(status="expired", expired_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount

    grantor = Resident.__table__.alias("grantor")
    found = db.session.execute(
        select(FamilyGrant.id, FamilyGrant.resident_id, grantor.c.name)
        .join(Resident, Resident.id == FamilyGrant.resident_id)
        .join(grantor, grantor.c.id == FamilyGrant.grantor_resident_id)
        .where(outgrown_clause(day))
    ).all()
    if found:
        db.session.execute(
            update(FamilyGrant)
            .where(FamilyGrant.id.in_([row.id for row in found]))
            .values(status="pending", basis=None, origin="turned_14", requested_at=at, accepted_at=None)
            .execution_options(synchronize_session=False)
        )
        audit.record_many(
            None, [row.resident_id for row in found], action="update", section="family_grant", purpose="family_access"
        )
        when = at.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")
        notify.enqueue_many(
            [
                (
                    notify.resident(row.resident_id),
                    "family_request",
                    f"family-grant:{row.id}:turned_14",
                    {
                        "title": "家人查看档案需要你的同意",
                        "body": f"你已年满14周岁，{row.name}查看你的健康档案需要你的同意，请在“家人”中处理",
                        "requester": row.name,
                        "when": when,
                    },
                    None,
                )
                for row in found
            ]
        )
    return {"turned_14": len(found), "expired": max(expired, 0)}
