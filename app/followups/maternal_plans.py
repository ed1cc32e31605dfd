"""A pregnancy's visits as plans of the one plan engine (programmes ``antenatal`` and ``postpartum``):
a woman with an ongoing pregnancy has one open antenatal plan, the next visit of
``app.maternal.schedule`` not done whose turn is not over (its ``kind``: ``first``, ``w16_20`` …);
after a delivery, one open postpartum plan (``home_visit``, then ``day42_check``).

The daily plan job closes the plans fulfilled by a visit recorded in any way, those whose turn is
over (lapsed) and the antenatal plan of a pregnancy that ended; then opens the missing ones, all
set-based. Recording a visit, registering or ending a pregnancy (``events.service_delivered``,
``events.pregnancy_changed``) does the same for the one woman at once. Reminders go to the woman
(``app.followups.reminders_job``).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)

from app.common.time import now, today
from app.common.types import UTCDateTime
from app.extensions import db
from app.followups.models import MATERNAL_PROGRAMMES, FollowupPlan
from app.followups.plans import PLAN_COLUMNS, add_days_column, insert_plans, later_of
from app.maternal.models import AntenatalVisit, PostpartumVisit, Pregnancy
from app.maternal.schedule import ANTENATAL, POSTPARTUM, SLOTS
from app.notify import services as notify
from app.residents.models import Resident

REMINDER_PREFIX = "maternal"  # maternal:{resident}:{open|closing}:{date}
# A delivery's postpartum visits are owed until the last one's turn ends.
POSTPARTUM_DAYS = max(s.turn_ends_day for s in SLOTS if s.programme == POSTPARTUM)
# A late registration's first visit stays the open plan for two weeks after it.
FIRST_VISIT_GRACE_DAYS = 14


def slot_rows():
    """The schedule as rows: (seq, kind, programme, anchor, opens_day, due_day, turn_ends_day, normal, high_risk)."""
    rows = [
        select(
            literal(seq, Integer).label("seq"),
            literal(s.kind, String).label("kind"),
            literal(s.programme, String).label("programme"),
            literal(s.anchor, String).label("anchor"),
            literal(s.opens_day, Integer).label("opens_day"),
            literal(s.due_day, Integer).label("due_day"),
            literal(s.turn_ends_day, Integer).label("turn_ends_day"),
            literal(s.normal, Boolean).label("normal"),
            literal(s.high_risk, Boolean).label("high_risk"),
        )
        for seq, s in enumerate(SLOTS)
    ]
    return union_all(*rows).subquery("maternal_slots")


def _anchor(slots):
    return case(
        (slots.c.anchor == "lmp", Pregnancy.last_menstrual_on),
        (slots.c.anchor == "discharge", func.coalesce(Pregnancy.discharged_on, Pregnancy.delivered_on)),
        else_=Pregnancy.delivered_on,
    )


def _window(slots):
    """(opens_on, due_on, turn_ends_on) of a slot for a pregnancy — ``app.maternal.schedule.window``:
    the first visit opens at registration and is due by 13 weeks or at a later registration."""
    start = _anchor(slots)
    first = slots.c.kind == "first"
    opens = case((first, Pregnancy.registered_on), else_=add_days_column(start, slots.c.opens_day))
    due = case(
        (first, later_of(add_days_column(start, slots.c.due_day), Pregnancy.registered_on)),
        else_=add_days_column(start, slots.c.due_day),
    )
    turn_ends = case(
        (
            first,
            later_of(
                add_days_column(start, slots.c.turn_ends_day),
                add_days_column(Pregnancy.registered_on, literal(FIRST_VISIT_GRACE_DAYS, Integer)),
            ),
        ),
        else_=add_days_column(start, slots.c.turn_ends_day),
    )
    return opens, due, turn_ends


def _owed(slots, day: date):
    """SQL over Pregnancy × slots: the slot is part of this pregnancy's schedule now."""
    return or_(
        and_(
            slots.c.programme == ANTENATAL,
            Pregnancy.status == "ongoing",
            case((Pregnancy.high_risk, slots.c.high_risk), else_=slots.c.normal),
        ),
        and_(
            slots.c.programme == POSTPARTUM,
            Pregnancy.status == "delivered",
            Pregnancy.delivered_on > day - timedelta(days=POSTPARTUM_DAYS),
        ),
    )


def _done(slots):
    """SQL over Pregnancy × slots: the slot's visit is recorded."""
    return or_(
        exists(
            select(AntenatalVisit.id).where(
                AntenatalVisit.pregnancy_id == Pregnancy.id, AntenatalVisit.slot == slots.c.kind
            )
        ),
        exists(
            select(PostpartumVisit.id).where(
                PostpartumVisit.pregnancy_id == Pregnancy.id, PostpartumVisit.kind == slots.c.kind
            )
        ),
    )


def missing_plans_select(day: date, resident_id: int | None = None):
    """SELECT of the plans to open (``PLAN_COLUMNS`` + kind): per pregnancy and programme without an
    open plan, the earliest slot owed, not done, whose turn is not over."""
    slots = slot_rows()
    opens, due, turn_ends = _window(slots)
    candidates = (
        select(Pregnancy.id.label("pregnancy_id"), slots.c.programme, func.min(slots.c.seq).label("seq"))
        .select_from(Pregnancy)
        .join(Resident, Resident.id == Pregnancy.resident_id)
        .join(slots, true())
        .where(
            Resident.status == "active",  # the plan job closes a woman's plans when she moves away or dies
            _owed(slots, day),
            turn_ends > literal(day, Date),
            ~_done(slots),
            ~exists(
                select(FollowupPlan.id).where(
                    FollowupPlan.resident_id == Pregnancy.resident_id,
                    FollowupPlan.disease == slots.c.programme,
                    FollowupPlan.status == "open",
                )
            ),
        )
        .group_by(Pregnancy.id, slots.c.programme)
    )
    if resident_id is not None:
        candidates = candidates.where(Pregnancy.resident_id == resident_id)
    chosen = candidates.subquery("chosen")
    pick = slot_rows()
    p_opens, p_due, _ = _window(pick)
    at = literal(now(), UTCDateTime)
    return (
        select(
            Pregnancy.resident_id,
            pick.c.programme,
            p_opens,
            p_due,
            literal("open", String),
            literal("routine", String),
            literal(0),
            literal(None),
            at,
            at,
            pick.c.kind,
        )
        .select_from(chosen)
        .join(Pregnancy, Pregnancy.id == chosen.c.pregnancy_id)
        .join(pick, pick.c.seq == chosen.c.seq)
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    )


def open_missing(day: date, resident_id: int | None = None) -> int:
    return insert_plans(missing_plans_select(day, resident_id), (*PLAN_COLUMNS, "kind"))


def _open_plans(resident_id: int | None):
    """SELECT FollowupPlan.id of the open maternal plans (of one woman)."""
    stmt = select(FollowupPlan.id).where(FollowupPlan.status == "open", FollowupPlan.disease.in_(MATERNAL_PROGRAMMES))
    return stmt if resident_id is None else stmt.where(FollowupPlan.resident_id == resident_id)


def _plans_of(slots, day: date, resident_id: int | None):
    """The open maternal plans (of one woman) joined to the pregnancy they belong to — the ongoing one
    for an antenatal plan, the delivery of the last 90 days (the day its last turn ends included, so
    that turn lapses) for a postpartum plan — and to their slot."""
    current = or_(
        and_(FollowupPlan.disease == ANTENATAL, Pregnancy.status == "ongoing"),
        and_(
            FollowupPlan.disease == POSTPARTUM,
            Pregnancy.status == "delivered",
            Pregnancy.delivered_on >= day - timedelta(days=POSTPARTUM_DAYS),
        ),
    )
    return (
        _open_plans(resident_id)
        .join(slots, slots.c.kind == FollowupPlan.kind)
        .join(Pregnancy, and_(Pregnancy.resident_id == FollowupPlan.resident_id, current))
    )


def _close(ids, day_or_column, reason: str) -> int:
    stmt = update(FollowupPlan).where(FollowupPlan.id.in_(ids))
    done = reason == "visit"
    result = db.session.execute(
        stmt.values(
            status="done" if done else "closed", closed_on=day_or_column, close_reason=reason, updated_at=now()
        ).execution_options(synchronize_session=False)
    )
    return result.rowcount


def close_done(day: date, resident_id: int | None = None) -> int:
    """Plans whose visit was recorded (closed on the visit's day)."""
    slots = slot_rows()
    visit_on = func.coalesce(
        select(func.min(AntenatalVisit.visit_on))
        .join(Pregnancy, Pregnancy.id == AntenatalVisit.pregnancy_id)
        .where(
            Pregnancy.resident_id == FollowupPlan.resident_id,
            Pregnancy.status == "ongoing",
            AntenatalVisit.slot == FollowupPlan.kind,
        )
        .scalar_subquery(),
        select(func.max(PostpartumVisit.visit_on))
        .where(PostpartumVisit.resident_id == FollowupPlan.resident_id, PostpartumVisit.kind == FollowupPlan.kind)
        .scalar_subquery(),
    )
    return _close(_plans_of(slots, day, resident_id).where(_done(slots)), visit_on, "visit")


def close_lapsed(day: date, resident_id: int | None = None) -> int:
    """Plans whose turn is over, or whose visit the pregnancy no longer owes (it became high-risk);
    then the antenatal plans of pregnancies that ended (``ended``)."""
    slots = slot_rows()
    _, _, turn_ends = _window(slots)
    lapsed = _plans_of(slots, day, resident_id).where(or_(turn_ends <= literal(day, Date), ~_owed(slots, day)))
    count = _close(lapsed, day, "lapsed")
    stale = _open_plans(resident_id).except_(_plans_of(slot_rows(), day, resident_id))
    return count + _close(stale, day, "ended")


def _replan(resident_id: int) -> None:
    day = today()
    if close_done(day, resident_id) + close_lapsed(day, resident_id):
        notify.withdraw(f"{REMINDER_PREFIX}:{resident_id}:")
    open_missing(day, resident_id)


def on_service_delivered(sender, *, resident_id: int, source: str, **_) -> None:
    """``events.service_delivered`` listener: an antenatal or postpartum visit closes the woman's plan
    it fulfils (or lapses one it passed), withdraws its pending reminders and opens the next."""
    if source in ("antenatal_visit", "postpartum_visit"):
        _replan(resident_id)


def on_pregnancy_changed(sender, *, resident_id: int, **_) -> None:
    """``events.pregnancy_changed`` listener: a registration opens the first visit's plan; the end of a
    pregnancy closes its antenatal plan and, after a delivery, opens the home visit's."""
    _replan(resident_id)
