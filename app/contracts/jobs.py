"""The contracts' daily job: end periods, start renewals, remind before the end.

Plain function; the scheduler's job list calls it (``today`` given for catch-up runs
and tests). Every part is a set-based statement and safe to run twice: a second
run on the same day finds nothing left to do (reminders are deduplicated per contract).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import String, and_, cast, exists, literal, select, update
from sqlalchemy.orm import aliased

from app.common.time import at_local, now
from app.common.time import today as local_today
from app.contracts.models import Contract
from app.extensions import db
from app.notify import services as notify
from app.notify.models import Outbox
from app.orgs.models import Team
from app.residents.models import Resident
from app.residents.services import assign_team

log = logging.getLogger(__name__)

REMIND_DAYS_BEFORE_END = 30
REMINDER_PREFIX = "contract-renewal-due:"


def expire_contracts(today: date) -> int:
    """Contracts whose period ended become ``expired`` (a scheduled one whose whole period passed too)."""
    result = db.session.execute(
        update(Contract)
        .where(Contract.status.in_(("active", "scheduled")), Contract.ends_on < today)
        .values(status="expired", updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def start_scheduled(today: date) -> int:
    """Signed renewals whose period has begun become ``active`` (and set the responsible team)."""
    other = aliased(Contract)
    due = db.session.execute(
        select(Contract.id, Contract.resident_id, Contract.team_id).where(
            Contract.status == "scheduled",
            Contract.starts_on <= today,
            Contract.ends_on >= today,
            ~exists().where(and_(other.resident_id == Contract.resident_id, other.status.in_(("pending", "active")))),
        )
    ).all()
    if not due:
        return 0
    ids = [row.id for row in due]
    for start in range(0, len(ids), 1000):
        db.session.execute(
            update(Contract)
            .where(Contract.id.in_(ids[start : start + 1000]))
            .values(status="active", updated_at=now())
            .execution_options(synchronize_session=False)
        )
    by_team: dict[int, list[int]] = {}
    for row in due:
        by_team.setdefault(row.team_id, []).append(row.resident_id)
    for team_id, resident_ids in by_team.items():
        for start in range(0, len(resident_ids), 1000):
            assign_team(resident_ids[start : start + 1000], team_id)
    return len(ids)


def _reminder_key(contract_id) -> str:
    return f"{REMINDER_PREFIX}{contract_id}"


def remind_renewals(today: date, days: int = REMIND_DAYS_BEFORE_END) -> int:
    """A renewal reminder for each running contract ending within ``days`` and not yet renewed.

    A window rather than one exact day, so a missed night is caught up; contracts already
    reminded are left out in the query (the outbox's unique dedup key is the backstop).
    """
    renewal = aliased(Contract)
    key = literal(REMINDER_PREFIX) + cast(Contract.id, String)
    rows = db.session.execute(
        select(Contract.id, Contract.resident_id, Contract.guardian_resident_id, Contract.ends_on, Team.name)
        .join(Team, Team.id == Contract.team_id)
        .join(Resident, Resident.id == Contract.resident_id)
        .where(
            Contract.status == "active",
            Contract.ends_on >= today,
            Contract.ends_on <= today + timedelta(days=days),
            Resident.status == "active",
            ~exists().where(and_(renewal.previous_contract_id == Contract.id, renewal.status != "rejected")),
            ~exists().where(Outbox.dedup_key == key),
        )
    ).all()
    at = max(now(), at_local(today, 9))  # reminders go out from 09:00 local time
    items = [
        (
            notify.resident(row.guardian_resident_id or row.resident_id),
            "contract_renewal_due",
            _reminder_key(row.id),
            {
                "title": "家庭医生签约即将到期",
                "team": row.name,
                "ends_on": row.ends_on.isoformat(),
                "contract_id": row.id,
                "body": f"您与{row.name}的签约服务将于 {row.ends_on} 到期，可在小程序中一键续约。",
            },
            at,
        )
        for row in rows
    ]
    return notify.enqueue_many(items)


def run_daily(today: date | None = None) -> dict:
    """The whole daily job: expire, start scheduled renewals, remind; commits once."""
    day = today or local_today()
    try:
        counts = {"expired": expire_contracts(day), "activated": start_scheduled(day), "reminded": remind_renewals(day)}
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("contracts daily job for %s: %s", day, counts)
    return counts
