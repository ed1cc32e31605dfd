"""The yearly checks as plans of the one plan engine (``FollowupPlan``, docs/domain.md §3):

- ``elderly_check``: residents 65 or older — one health check (健康体检表) a calendar year;
- ``elderly_tcm``: the same residents — TCM constitution identification and guidance (a service
  record of kind ``tcm``) a calendar year;
- ``disabled_check``: certified disabled residents under 65 — one health check a year (from 65
  the elderly check is the same check, so nobody carries two plans for it).

The year is the calendar year, as the indicators count it (老年人规范健康管理服务率 and
老年人中医药健康管理率: a record between 1 January and the day). A plan opens on the first day the
resident is eligible in a year without such a record (1 January, or the day they turn 65 or
are certified), and is due on the anniversary of last year's record — the rhythm the team kept —
but at least :data:`GRACE_DAYS` after it opens; :data:`FIRST_DAYS` after opening for a resident
never checked; never after 31 December. The record closes it (``done``), whichever way it was
entered: at once through ``events.service_delivered`` (:func:`on_service_delivered`), and by the
daily plan job (``app.followups.plans_job``) for records that came in any other way.
A plan still open on 1 January lapses and the new year's plan opens. Overdue is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, String, and_, case, exists, func, literal, not_, select, true, update

from app.archive.models import HealthCheck, ServiceRecord
from app.common.time import now
from app.common.types import UTCDateTime
from app.extensions import db
from app.followups.models import CHECK_PROGRAMMES, FollowupPlan
from app.followups.plans import add_days
from app.notify import services as notify
from app.residents.models import Resident
from app.residents.populations import population_clause

FIRST_DAYS = 90  # a resident never checked: due within a quarter of becoming due
GRACE_DAYS = 30  # the anniversary of last year's check, but never sooner than this after opening
REMINDER_PREFIX = "checkup"  # the reminders' dedup keys: checkup:{resident}:{open|closing}:{date}


@dataclass(frozen=True)
class CheckProgramme:
    key: str
    record: str  # what fulfils it: "health_check" | "tcm"
    item: str  # the reminder's and the worklist's name for it
    eligible: Callable[[date], Any]  # a clause over Resident on a day


def _disabled_under_65(day: date):
    return and_(population_clause("disabled", day), not_(population_clause("elderly", day)))


PROGRAMMES = (
    CheckProgramme("elderly_check", "health_check", "老年人健康体检", lambda day: population_clause("elderly", day)),
    CheckProgramme("elderly_tcm", "tcm", "中医体质辨识", lambda day: population_clause("elderly", day)),
    CheckProgramme("disabled_check", "health_check", "残疾人健康体检", _disabled_under_65),
)
BY_KEY = {p.key: p for p in PROGRAMMES}
assert tuple(BY_KEY) == CHECK_PROGRAMMES


def records(kind: str):
    """(resident_id, on) of every record of ``kind``."""
    if kind == "health_check":
        return select(HealthCheck.resident_id.label("resident_id"), HealthCheck.checked_on.label("on"))
    return select(ServiceRecord.resident_id.label("resident_id"), ServiceRecord.served_on.label("on")).where(
        ServiceRecord.kind == "tcm"
    )


def _year_start(day: date) -> date:
    return date(day.year, 1, 1)


def _record_this_year(programme: CheckProgramme, resident_id, day: date):
    found = records(programme.record).subquery()
    return exists(select(found.c.resident_id).where(found.c.resident_id == resident_id, found.c.on >= _year_start(day)))


# --- the daily job ----------------------------------------------------------------------------


def _open_check_plans(*where):
    return (
        update(FollowupPlan).where(FollowupPlan.status == "open", *where).execution_options(synchronize_session=False)
    )


def close_lapsed(day: date) -> int:
    """Plans of an earlier year still open: that year is over."""
    result = db.session.execute(
        _open_check_plans(FollowupPlan.disease.in_(CHECK_PROGRAMMES), FollowupPlan.opens_on < _year_start(day)).values(
            status="closed", closed_on=day, close_reason="lapsed", updated_at=now()
        )
    )
    return result.rowcount


def close_done(day: date) -> int:
    """Plans whose record came in by a way that did not announce it (the listener closes the rest)."""
    closed = 0
    for programme in PROGRAMMES:
        found = records(programme.record).subquery()
        first = (
            select(func.min(found.c.on))
            .where(found.c.resident_id == FollowupPlan.resident_id, found.c.on >= _year_start(day))
            .scalar_subquery()
        )
        result = db.session.execute(
            _open_check_plans(
                FollowupPlan.disease == programme.key, _record_this_year(programme, FollowupPlan.resident_id, day)
            ).values(status="done", closed_on=first, close_reason="visit", updated_at=now())
        )
        closed += result.rowcount
    return closed


def close_not_eligible(day: date) -> int:
    """Plans of residents the programme no longer covers (a certificate withdrawn; 65 reached)."""
    closed = 0
    for programme in PROGRAMMES:
        still = select(Resident.id).where(programme.eligible(day))
        result = db.session.execute(
            _open_check_plans(FollowupPlan.disease == programme.key, FollowupPlan.resident_id.not_in(still)).values(
                status="closed", closed_on=day, close_reason="not_managed", updated_at=now()
            )
        )
        closed += result.rowcount
    return closed


def _capped(value: date, day: date) -> date:
    return min(value, date(day.year, 12, 31))


def missing_plans_select(programme: CheckProgramme, day: date):
    """SELECT of the plans to open (in ``plans.PLAN_COLUMNS`` order) for one programme."""
    found = records(programme.record).subquery()
    last = select(func.max(found.c.on)).where(found.c.resident_id == Resident.id).correlate(Resident).scalar_subquery()
    anniversary = add_days(last, 365)
    floor = _capped(day + timedelta(days=GRACE_DAYS), day)
    first = _capped(day + timedelta(days=FIRST_DAYS), day)
    end = date(day.year, 12, 31)
    due_on = case(
        (last.is_(None), literal(first, Date)),
        (anniversary < literal(floor, Date), literal(floor, Date)),
        (anniversary > literal(end, Date), literal(end, Date)),
        else_=anniversary,
    )
    at = literal(now(), UTCDateTime)
    return (
        select(
            Resident.id,
            literal(programme.key, String),
            literal(day, Date),
            due_on,
            literal("open", String),
            case((last.is_(None), "first"), else_="routine"),
            literal(0),
            literal(None),
            at,
            at,
        )
        .where(
            Resident.status == "active",
            programme.eligible(day),
            ~exists(
                select(FollowupPlan.id).where(
                    FollowupPlan.resident_id == Resident.id,
                    FollowupPlan.disease == programme.key,
                    FollowupPlan.status == "open",
                )
            ),
            ~_record_this_year(programme, Resident.id, day),
        )
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    )


# --- when a check is recorded -----------------------------------------------------------------


def on_service_delivered(sender, *, resident_id: int, service_type: str, served_on: date, source: str, **_) -> None:
    """``events.service_delivered`` listener: a health check or TCM record of this year closes the
    resident's open plan of the programmes it fulfils; their pending reminders are withdrawn once no
    yearly check is left open for the resident."""
    kind = "health_check" if source == "health_check" else "tcm" if service_type == "tcm" else None
    if kind is None:
        return
    keys = [p.key for p in PROGRAMMES if p.record == kind]
    result = db.session.execute(
        _open_check_plans(
            FollowupPlan.resident_id == resident_id,
            FollowupPlan.disease.in_(keys),
            FollowupPlan.opens_on >= _year_start(served_on),  # a plan of the record's year
            FollowupPlan.opens_on < date(served_on.year + 1, 1, 1),
        ).values(status="done", closed_on=served_on, close_reason="visit", updated_at=now())
    )
    if result.rowcount and not _any_open(resident_id):
        notify.withdraw(f"{REMINDER_PREFIX}:{resident_id}:")


def _any_open(resident_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(FollowupPlan.id)
            .where(
                FollowupPlan.resident_id == resident_id,
                FollowupPlan.status == "open",
                FollowupPlan.disease.in_(CHECK_PROGRAMMES),
            )
            .limit(1)
        )
    )
