"""The children's checks of 0–6 years as plans of the one plan engine (programme ``child``): each child
has one open plan, the next check of ``app.archive.child_schedule`` — its ``kind`` (``month_3`` …),
its window from the birth date.

Which check is the plan: the earliest of the schedule not done whose turn is not over — a check's
turn lasts until the next check's window opens (so a missed 3-month check stays overdue until the
6-month window opens, then lapses), the last one's until the 7th birthday. The daily plan job opens
the missing plans, lapses those whose turn ended and closes those done by a check recorded in any
way; recording a check through the API (``events.service_delivered``) closes the plan at once and
opens the next. Reminders go to the child's guardians (``app.followups.reminders_job``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, case, exists, func, literal, not_, select, true, union_all, update

from app.archive.child_schedule import KINDS
from app.archive.models import ChildCheck
from app.common.time import now, today, years_before
from app.common.types import UTCDateTime
from app.extensions import db
from app.followups.models import CHILD_PROGRAMME, FollowupPlan
from app.followups.plans import PLAN_COLUMNS, add_days_column, insert_plans
from app.notify import services as notify
from app.residents.models import Resident
from app.residents.populations import CHILD_MAX_AGE

REMINDER_PREFIX = "child"  # child:{child}:to:{guardian}:{open|closing}:{date}
_TURN_ENDS = [k.opens_day for k in KINDS[1:]] + [None]  # the next check's window; None: the 7th birthday


def schedule_rows():
    """The schedule as rows: (seq, kind, opens_day, due_day, turn_ends_day — NULL for the last,
    tcm and under3 as 0/1: whether TCM guidance is part of it, whether it counts for the under-3s)."""
    rows = [
        select(
            literal(seq, Integer).label("seq"),
            literal(k.kind, String).label("kind"),
            literal(k.opens_day, Integer).label("opens_day"),
            literal(k.due_day, Integer).label("due_day"),
            literal(turn_ends, Integer).label("turn_ends_day"),
            literal(int(k.tcm), Integer).label("tcm"),
            literal(int(k.under3), Integer).label("under3"),
        )
        for seq, (k, turn_ends) in enumerate(zip(KINDS, _TURN_ENDS, strict=True))
    ]
    return union_all(*rows).subquery("child_kinds")


def _turn_over(kinds, birth_on, day: date):
    """The check's turn has ended by ``day``: the next window opened, or the child is 7."""
    return case(
        (kinds.c.turn_ends_day.is_(None), birth_on <= literal(years_before(day, CHILD_MAX_AGE + 1), Date)),
        else_=add_days_column(birth_on, kinds.c.turn_ends_day) <= literal(day, Date),
    )


def _done(kind_column, resident_id):
    return exists(select(ChildCheck.id).where(ChildCheck.resident_id == resident_id, ChildCheck.kind == kind_column))


def missing_plans_select(day: date, resident_id: int | None = None):
    """SELECT of the plans to open (``PLAN_COLUMNS`` + kind): each active child 0–6 without an open
    plan gets the earliest check not done whose turn is not over."""
    kinds = schedule_rows()
    turn_over = _turn_over(kinds, Resident.birth_on, day)
    candidates = (
        select(
            Resident.id.label("resident_id"), Resident.birth_on.label("birth_on"), func.min(kinds.c.seq).label("seq")
        )
        .select_from(Resident)
        .join(kinds, true())
        .where(
            Resident.status == "active",
            Resident.birth_on > years_before(day, CHILD_MAX_AGE + 1),
            Resident.birth_on <= day,
            not_(turn_over),
            ~_done(kinds.c.kind, Resident.id),
            ~exists(
                select(FollowupPlan.id).where(
                    FollowupPlan.resident_id == Resident.id,
                    FollowupPlan.disease == CHILD_PROGRAMME,
                    FollowupPlan.status == "open",
                )
            ),
        )
        .group_by(Resident.id, Resident.birth_on)
    )
    if resident_id is not None:
        candidates = candidates.where(Resident.id == resident_id)
    chosen = candidates.subquery("chosen")
    pick = schedule_rows()
    at = literal(now(), UTCDateTime)
    return (
        select(
            chosen.c.resident_id,
            literal(CHILD_PROGRAMME, String),
            add_days_column(chosen.c.birth_on, pick.c.opens_day),
            add_days_column(chosen.c.birth_on, pick.c.due_day),
            literal("open", String),
            literal("routine", String),
            literal(0),
            literal(None),
            at,
            at,
            pick.c.kind,
        )
        .select_from(chosen.join(pick, pick.c.seq == chosen.c.seq))
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    )


def open_missing(day: date, resident_id: int | None = None) -> int:
    return insert_plans(missing_plans_select(day, resident_id), (*PLAN_COLUMNS, "kind"))


def _open_child_plans(*where):
    return (
        update(FollowupPlan)
        .where(FollowupPlan.status == "open", FollowupPlan.disease == CHILD_PROGRAMME, *where)
        .execution_options(synchronize_session=False)
    )


def close_done(day: date) -> int:
    """Plans whose check was recorded by a way that did not announce it."""
    first = (
        select(func.min(ChildCheck.checked_on))
        .where(ChildCheck.resident_id == FollowupPlan.resident_id, ChildCheck.kind == FollowupPlan.kind)
        .scalar_subquery()
    )
    result = db.session.execute(
        _open_child_plans(_done(FollowupPlan.kind, FollowupPlan.resident_id)).values(
            status="done", closed_on=first, close_reason="visit", updated_at=now()
        )
    )
    return result.rowcount


def close_lapsed(day: date) -> int:
    """Plans whose check's turn is over (the next window opened, or the child turned 7)."""
    kinds = schedule_rows()
    over = (
        select(FollowupPlan.id)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .join(kinds, kinds.c.kind == FollowupPlan.kind)
        .where(
            FollowupPlan.status == "open",
            FollowupPlan.disease == CHILD_PROGRAMME,
            _turn_over(kinds, Resident.birth_on, day),
        )
    )
    result = db.session.execute(
        _open_child_plans(FollowupPlan.id.in_(over)).values(
            status="closed", closed_on=day, close_reason="lapsed", updated_at=now()
        )
    )
    return result.rowcount


def on_service_delivered(sender, *, resident_id: int, served_on: date, source: str, kind=None, **_) -> None:
    """``events.service_delivered`` listener: a child check closes the child's plan — done when it is
    the plan's check, lapsed when it is a later one — withdraws its pending reminders and opens the
    next plan at once."""
    if source != "child_check":
        return
    seq = {k.kind: i for i, k in enumerate(KINDS)}
    plan = db.session.execute(
        select(FollowupPlan.id, FollowupPlan.kind).where(
            FollowupPlan.resident_id == resident_id,
            FollowupPlan.disease == CHILD_PROGRAMME,
            FollowupPlan.status == "open",
        )
    ).first()
    if plan is not None and seq.get(plan.kind, -1) <= seq[kind]:
        done = plan.kind == kind
        db.session.execute(
            _open_child_plans(FollowupPlan.id == plan.id).values(
                status="done" if done else "closed",
                closed_on=served_on,
                close_reason="visit" if done else "lapsed",
                updated_at=now(),
            )
        )
        notify.withdraw(f"{REMINDER_PREFIX}:{resident_id}:")
    open_missing(today(), resident_id)


def on_baby_archived(sender, *, baby_resident_id: int, **_) -> None:
    """``events.baby_archived`` listener: a newborn's first plan (the newborn home visit, due within a
    week) opens at once, not with the next night's job."""
    open_missing(today(), baby_resident_id)
