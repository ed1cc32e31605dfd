"""Appointments: slots (one by one or as a weekly pattern), booking, cancelling,
rescheduling, check-in and no-show; reminders through the notification outbox.

Scope (deny by default; out of scope reads as 404):
- A resident account books and sees appointments for itself and the family members it
  may act for (``access.scope.resident_ids_for_account``); it sees and books slots of any
  team in the centre subtree (level-3 institution and its stations/clinics) of the
  resident concerned.
- Staff see slots of their institution's subtree and may book residents in scope into them.
  A team's own business — publishing and cancelling slots, its appointments, its day view,
  check-in and no-show — belongs to the team's members, to institution admins of the
  subtree, and to the district admin (:func:`managed_teams_clause`).

Concurrency: a place is taken with one conditional UPDATE of the slot's counter in the
booking transaction (works alike on PostgreSQL's row locks and SQLite's single writer);
the partial unique index on (resident, service, local day) rejects a concurrent double
booking, which is answered 409 ``double_booking``.

For other features:
- :func:`appointment_for_visit` — the checked-in appointment a visit (follow-up, health
  check …) is being recorded against; :func:`complete_appointment` marks it completed.
- :func:`no_show_flags` — residents whose three most recent concluded appointments were
  all no-shows.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, delete, exists, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import (get_managed_team, get_resident, institution_ids_clause, managed_teams_clause,
                              resident_ids_for_account)
from app.appointments import holidays
from app.appointments.models import (
    CONCLUDED_STATUSES,
    HOLDING_STATUSES,
    SERVICES,
    Appointment,
    Slot,
)
from app.appointments.notifications import CANCELLED, DAY_BEFORE, SOON
from app.audit import services as audit
from app.common.time import age_on, at_local, ensure_utc, local_tz, now, today
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import Institution, Team
from app.residents.models import Resident
from app.residents.populations import populations_of

log = logging.getLogger(__name__)

# Configuration knobs (read from app.config, these are the defaults).
SETTINGS = {
    "BOOKING_CLOSES_MINUTES_BEFORE": 60,      # residents book until this long before the start
    "RESIDENT_CANCEL_CUTOFF_MINUTES": 120,    # residents cancel online until this long before
    "DAY_BEFORE_REMINDER_HOUR": 18,           # local hour of the day-before reminder
    "SOON_REMINDER_MINUTES_BEFORE": 120,      # the "soon" reminder, minutes before the start
}
NO_SHOW_STREAK = 3
MAX_PATTERN_DAYS = 366
MAX_SLOTS_PER_REQUEST = 1000

NOT_ELIGIBLE = {
    "elderly_check": "the elderly health check is for residents aged 65 and over",
    "chronic_followup": "chronic follow-ups are for registered hypertension or type-2 diabetes patients",
    "child_check": "child health checks are for children aged 0-6",
    "prenatal_check": "prenatal checks are for pregnant women",
}
CANCEL_REASON_TEXT = {"staff": "医生团队取消", "slot_cancelled": "门诊时段取消", "resident": "本人取消",
                      "rescheduled": "已改约"}


def setting(name: str) -> int:
    return int(current_app.config.get(name, SETTINGS[name]))


def local_date(at: datetime) -> date:
    return at.astimezone(local_tz()).date()


def local_text(at: datetime) -> str:
    return at.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")


def service_name(service: str) -> str:
    return SERVICES[service][0]


# --- scope ---------------------------------------------------------------------------------

def _path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def centre_paths(resident_ids) -> set[str]:
    """The subtrees these residents book in: each one's level-3 centre (or own institution)."""
    ids = list(resident_ids)
    if not ids:
        return set()
    paths = set(db.session.scalars(
        select(Institution.path).join(Resident, Resident.institution_id == Institution.id)
        .where(Resident.id.in_(ids))))
    ancestors = {i for path in paths for i in _path_ids(path)}
    centres = dict(db.session.execute(
        select(Institution.id, Institution.path).where(Institution.id.in_(ancestors), Institution.level == 3)).all())
    found = set()
    for path in paths:
        found.add(next((centres[i] for i in _path_ids(path) if i in centres), path))
    return found


def _teams_under(paths: set[str]):
    if not paths:
        return select(Team.id).where(false())
    return (select(Team.id).join(Institution, Institution.id == Team.institution_id)
            .where(or_(*[Institution.path.startswith(p) for p in sorted(paths)])))


def slot_clause(actor: Actor, for_resident_ids=None):
    """WHERE over ``Slot``: what the actor may see (and book into)."""
    if actor.is_staff:
        if actor.is_district_admin:
            return true()
        return Slot.team_id.in_(select(Team.id).where(institution_ids_clause(actor, Team.institution_id)))
    ids = resident_ids_for_account(actor) if for_resident_ids is None else for_resident_ids
    return Slot.team_id.in_(_teams_under(centre_paths(ids)))


def get_slot(actor: Actor, slot_id: int) -> Slot:
    slot = db.session.scalar(select(Slot).where(Slot.id == slot_id, slot_clause(actor)))
    if slot is None:
        raise NotFound("slot not found")
    return slot


def get_managed_slot(actor: Actor, slot_id: int) -> Slot:
    slot = db.session.scalar(select(Slot).where(Slot.id == slot_id, managed_teams_clause(actor, Slot.team_id)))
    if slot is None:
        raise NotFound("slot not found")
    return slot


def appointment_clause(actor: Actor):
    """WHERE over ``Appointment``: own and family for accounts, the teams' for staff."""
    if actor.is_staff:
        return managed_teams_clause(actor, Appointment.team_id)
    ids = resident_ids_for_account(actor)
    return Appointment.resident_id.in_(ids) if ids else false()


def get_appointment(actor: Actor, appointment_id: int) -> Appointment:
    appointment = db.session.scalar(
        select(Appointment).where(Appointment.id == appointment_id, appointment_clause(actor)))
    if appointment is None:
        raise NotFound("appointment not found")
    return appointment


def _locking() -> bool:
    """Explicit row locks on PostgreSQL; SQLite has one writer at a time anyway."""
    return db.session.get_bind().dialect.name == "postgresql"


def _lock_slots(slot_ids) -> None:
    """Lock slot rows in id order. Rows are always locked appointments first, then slots by
    id, so a reschedule, a cancellation and a slot cancellation racing each other wait
    instead of deadlocking."""
    if _locking():
        db.session.execute(select(Slot.id).where(Slot.id.in_(sorted(set(slot_ids)))).order_by(Slot.id)
                           .with_for_update())


def _serves(slot: Slot, resident: Resident) -> bool:
    return db.session.scalar(select(exists().where(
        Slot.id == slot.id, Slot.team_id.in_(_teams_under(centre_paths([resident.id])))))) is True


# --- slots ---------------------------------------------------------------------------------

def _check_slot_times(starts_at: datetime, ends_at: datetime, prefix: str = "") -> None:
    if starts_at <= now():
        raise Invalid(f"{prefix}starts_at", "must be in the future")
    if ends_at <= starts_at:
        raise Invalid(f"{prefix}ends_at", "must be after starts_at")
    if local_date(ends_at - timedelta(microseconds=1)) != local_date(starts_at):
        raise Invalid(f"{prefix}ends_at", "a slot ends on the day it starts (local time)")


def _new_slot(actor: Actor, team: Team, service: str, starts_at: datetime, ends_at: datetime, capacity: int,
              note: str | None = None) -> Slot:
    # Stored and answered in UTC, whatever offset the client wrote (the answer is built before the commit).
    starts_at, ends_at = ensure_utc(starts_at), ensure_utc(ends_at)
    return Slot(team_id=team.id, service=service, starts_at=starts_at, ends_at=ends_at,
                starts_on=local_date(starts_at), capacity=capacity, booked=0, status="open", note=note,
                created_by_id=actor.id, created_at=now())


def _flush_slots() -> None:
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request published the same slot
        db.session.rollback()
        raise Conflict("this team already has an open slot for this service at that time",
                       error="slot_exists") from None


def create_slots(actor: Actor, items: list[dict], *, many: bool) -> list[Slot]:
    """Publish slots (all or nothing). Field names in errors carry the item's index for a list."""
    if len(items) > MAX_SLOTS_PER_REQUEST:
        raise Invalid("slots", f"at most {MAX_SLOTS_PER_REQUEST} slots per request")
    teams: dict[int, Team] = {}
    seen: set = set()
    for index, item in enumerate(items):
        prefix = f"{index}." if many else ""
        team = teams.get(item["team_id"]) or get_managed_team(actor, item["team_id"])
        teams[team.id] = team
        if not team.active:
            raise Invalid(f"{prefix}team_id", "this team is not active")
        _check_slot_times(item["starts_at"], item["ends_at"], prefix)
        key = (team.id, item["service"], item["starts_at"])
        if key in seen:
            raise Invalid(f"{prefix}starts_at", "the same team, service and start twice in this request")
        seen.add(key)
    # One query for the slots that already exist among those asked for.
    existing = {(row.team_id, row.service, row.starts_at) for row in db.session.execute(
        select(Slot.team_id, Slot.service, Slot.starts_at).where(
            Slot.status == "open", Slot.team_id.in_(list(teams)),
            Slot.starts_at.in_(sorted({item["starts_at"] for item in items}))))}
    for index, item in enumerate(items):
        if (item["team_id"], item["service"], item["starts_at"]) in existing:
            raise Conflict(f"item {index}: this team already has an open slot for this service at that time"
                           if many else "this team already has an open slot for this service at that time",
                           error="slot_exists")
    slots = [_new_slot(actor, teams[item["team_id"]], item["service"], item["starts_at"], item["ends_at"],
                       item["capacity"], item.get("note")) for item in items]
    db.session.add_all(slots)
    _flush_slots()
    log.info("staff %s published %d slot(s)", actor.id, len(slots))
    return slots


def pattern_days(starts_on: date, ends_on: date, weekdays: set[int]):
    day = starts_on
    while day <= ends_on:
        if day.isoweekday() in weekdays:
            yield day
        day += timedelta(days=1)


def create_pattern(actor: Actor, data: dict) -> dict:
    """A weekly pattern over a date range: ``weekdays`` (ISO, 1 = Monday) × ``times`` (local).

    Public holidays are skipped unless ``skip_holidays`` is false; starts already past and
    slots that already exist (an earlier run of the same pattern) are skipped too, so a
    pattern can be re-run to extend or repair a schedule.
    """
    team = get_managed_team(actor, data["team_id"])
    if not team.active:
        raise Invalid("team_id", "this team is not active")
    starts_on = data["starts_on"]
    if data.get("ends_on") is not None and data.get("weeks") is not None:
        raise Invalid("weeks", "give ends_on or weeks, not both")
    if data.get("ends_on") is not None:
        ends_on = data["ends_on"]
    elif data.get("weeks") is not None:
        ends_on = starts_on + timedelta(days=7 * data["weeks"] - 1)
    else:
        raise Invalid("ends_on", "give ends_on or weeks")
    if ends_on < starts_on:
        raise Invalid("ends_on", "must not be before starts_on")
    if (ends_on - starts_on).days >= MAX_PATTERN_DAYS:
        raise Invalid("ends_on", f"a pattern covers at most {MAX_PATTERN_DAYS} days")
    times = []
    for index, window in enumerate(data["times"]):
        start, end = window["start"], window["end"]
        if end <= start:
            raise Invalid(f"times.{index}.end", "must be after start")
        times.append((start, end))
    service, capacity = data["service"], data["capacity"]
    existing = set(db.session.scalars(select(Slot.starts_at).where(
        Slot.team_id == team.id, Slot.service == service, Slot.status == "open",
        Slot.starts_on >= starts_on, Slot.starts_on <= ends_on)))
    at = now()
    created, skipped = [], []
    for day in pattern_days(starts_on, ends_on, set(data["weekdays"])):
        holiday = holidays.holiday_name(day) if data.get("skip_holidays", True) else None
        if holiday:
            skipped.append({"date": day, "reason": "holiday", "holiday": holiday, "starts_at": None})
            continue
        for start, end in times:
            starts_at = at_local(day, start.hour, start.minute)
            ends_at = at_local(day, end.hour, end.minute)
            if starts_at <= at:
                skipped.append({"date": day, "reason": "past", "holiday": None, "starts_at": starts_at})
            elif starts_at in existing:
                skipped.append({"date": day, "reason": "exists", "holiday": None, "starts_at": starts_at})
            else:
                created.append(_new_slot(actor, team, service, starts_at, ends_at, capacity, data.get("note")))
    if len(created) > MAX_SLOTS_PER_REQUEST:
        raise Invalid("ends_on", f"the pattern would create {len(created)} slots; at most {MAX_SLOTS_PER_REQUEST}")
    db.session.add_all(created)
    _flush_slots()
    log.info("staff %s published a pattern for team %s: %d slots, %d skipped", actor.id, team.id,
             len(created), len(skipped))
    return {"created": created, "skipped": skipped}


def search_slots(actor: Actor, args: dict):
    """A select of the slots the caller may see, filtered; residents see open, future ones."""
    scope_ids = None
    if not actor.is_staff and args.get("resident_id") is not None:
        scope_ids = [get_resident(actor, args["resident_id"]).id]
    stmt = select(Slot).where(slot_clause(actor, scope_ids))
    if args.get("team_id") is not None:
        stmt = stmt.where(Slot.team_id == args["team_id"])
    if args.get("service"):
        stmt = stmt.where(Slot.service == args["service"])
    stmt = stmt.where(Slot.starts_on >= (args.get("from_") or today()))
    if args.get("to") is not None:
        stmt = stmt.where(Slot.starts_on <= args["to"])
    if not actor.is_staff:
        stmt = stmt.where(Slot.status == "open", Slot.starts_at > now())
    elif args.get("status"):
        stmt = stmt.where(Slot.status == args["status"])
    if args.get("available"):
        stmt = stmt.where(Slot.status == "open", Slot.booked < Slot.capacity)
    return stmt.order_by(Slot.starts_at, Slot.id)


def present_slot(slot: Slot, team_names: dict | None = None) -> dict:
    closes_at = slot.starts_at - timedelta(minutes=setting("BOOKING_CLOSES_MINUTES_BEFORE"))
    return {"id": slot.id, "team_id": slot.team_id,
            "team_name": (team_names or {}).get(slot.team_id) or (slot.team.name if slot.team else None),
            "service": slot.service, "service_name": service_name(slot.service),
            "starts_at": slot.starts_at, "ends_at": slot.ends_at, "date": slot.starts_on,
            "capacity": slot.capacity, "booked": slot.booked, "available": slot.available,
            "status": slot.status, "note": slot.note, "booking_closes_at": closes_at,
            "bookable": slot.available > 0 and now() < closes_at,
            "cancelled_at": slot.cancelled_at, "cancel_reason": slot.cancel_reason}


def present_slots(slots: list[Slot]) -> list[dict]:
    names = dict(db.session.execute(select(Team.id, Team.name).where(
        Team.id.in_({s.team_id for s in slots}))).all()) if slots else {}
    return [present_slot(s, names) for s in slots]


def cancel_slot(actor: Actor, slot: Slot, reason: str | None) -> Slot:
    """Cancel a slot: its booked appointments are cancelled and those residents told."""
    at = now()
    if slot.ends_at <= at:
        raise Conflict("this slot is over", error="slot_over")
    if _locking():  # appointments before the slot: the lock order every writer keeps
        db.session.execute(select(Appointment.id).where(Appointment.slot_id == slot.id, Appointment.status == "booked")
                           .order_by(Appointment.id).with_for_update())
    done = db.session.execute(
        update(Slot).where(Slot.id == slot.id, Slot.status == "open")
        .values(status="cancelled", cancelled_at=at, cancelled_by_id=actor.id, cancel_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict("this slot is already cancelled", error="slot_cancelled")
    ids = list(db.session.scalars(
        update(Appointment).where(Appointment.slot_id == slot.id, Appointment.status == "booked")
        .values(status="cancelled", cancelled_at=at, cancelled_by_kind="staff", cancelled_by_id=actor.id,
                cancel_reason="slot_cancelled", cancel_note=reason, updated_at=at)
        .returning(Appointment.id).execution_options(synchronize_session=False)))
    if ids:
        db.session.execute(update(Slot).where(Slot.id == slot.id).values(booked=Slot.booked - len(ids))
                           .execution_options(synchronize_session=False))
        _withdraw(ids)
        _notify_cancelled(ids, reason)
        audit.record_many(actor, db.session.scalars(select(Appointment.resident_id).where(Appointment.id.in_(ids))),
                          action="update", section="appointment", purpose="care")
    db.session.expire(slot)
    log.info("staff %s cancelled slot %s (%d appointments)", actor.id, slot.id, len(ids))
    return slot


def delete_slot(actor: Actor, slot: Slot) -> None:
    """Delete a slot nobody ever booked (with bookings: cancel it instead → 409)."""
    done = db.session.execute(
        delete(Slot).where(Slot.id == slot.id, Slot.booked == 0,
                           ~exists().where(Appointment.slot_id == Slot.id))
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict("this slot has bookings; cancel it instead", error="slot_has_bookings")
    db.session.expunge(slot)


# --- booking -------------------------------------------------------------------------------

def check_eligible(resident: Resident, service: str, day: date) -> None:
    """The service must fit the person on the day of the appointment (populations, never re-derived)."""
    wanted = SERVICES[service][1]
    if not wanted or set(populations_of(resident, day)) & set(wanted):
        return
    raise Invalid("resident_id", NOT_ELIGIBLE[service], error="not_eligible")


def _subject(actor: Actor, resident_id: int | None) -> Resident:
    if resident_id is None:
        if actor.is_staff:
            raise Invalid("resident_id", "required for staff bookings")
        if actor.resident_id is None:
            raise Forbidden("bind your own archive first", error="account_not_bound")
        resident_id = actor.resident_id
    resident = get_resident(actor, resident_id)
    if resident.status != "active":
        raise Invalid("resident_id", "this archive is not active (moved away or deceased)")
    return resident


def _holding_exists(resident_id: int, service: str, day: date) -> bool:
    return db.session.scalar(select(exists().where(
        Appointment.resident_id == resident_id, Appointment.service == service,
        Appointment.scheduled_on == day, Appointment.status.in_(HOLDING_STATUSES)))) is True


def _double_booking() -> Conflict:
    return Conflict("this person already has a booking for this service on that day", error="double_booking")


def book(actor: Actor, data: dict) -> Appointment:
    """POST /appointments: a resident for self or family, or staff for a resident in scope."""
    resident = _subject(actor, data.get("resident_id"))
    slot = get_slot(actor, data["slot_id"])
    return _book(actor, resident, slot, service=data.get("service"), note=data.get("note"))


def _book(actor: Actor, resident: Resident, slot: Slot, *, service: str | None, note: str | None,
          previous: Appointment | None = None, contact_resident_id: int | None = None) -> Appointment:
    if service is not None and service != slot.service:
        raise Invalid("service", f"this slot is for {slot.service}")
    if slot.status != "open":
        raise Conflict("this slot was cancelled", error="slot_cancelled")
    if not _serves(slot, resident):
        raise Invalid("slot_id", "this team does not serve the resident's area")
    at = now()
    closes_at = slot.starts_at if actor.is_staff else \
        slot.starts_at - timedelta(minutes=setting("BOOKING_CLOSES_MINUTES_BEFORE"))
    if at >= closes_at:
        raise Conflict("booking for this slot has closed", error="booking_closed")
    check_eligible(resident, slot.service, slot.starts_on)
    if _holding_exists(resident.id, slot.service, slot.starts_on):
        raise _double_booking()
    # Take a place: one conditional UPDATE, so capacity holds under any concurrency.
    taken = db.session.execute(
        update(Slot).where(Slot.id == slot.id, Slot.status == "open", Slot.booked < Slot.capacity)
        .values(booked=Slot.booked + 1).execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        state = db.session.scalar(select(Slot.status).where(Slot.id == slot.id))
        db.session.rollback()
        if state is None:
            raise NotFound("slot not found")
        if state != "open":
            raise Conflict("this slot was cancelled", error="slot_cancelled")
        raise Conflict("this slot is full", error="slot_full")
    appointment = Appointment(
        slot_id=slot.id, resident_id=resident.id, team_id=slot.team_id, service=slot.service,
        starts_at=slot.starts_at, ends_at=slot.ends_at, scheduled_on=slot.starts_on, status="booked",
        note=note, booked_by_kind="staff" if actor.is_staff else "resident", booked_by_id=actor.id,
        contact_resident_id=contact_resident_id or (resident.id if actor.is_staff else actor.resident_id),
        booked_at=at,
        rescheduled_from_id=previous.id if previous is not None else None, updated_at=at)
    db.session.add(appointment)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent booking for the same person, service and day won
        db.session.rollback()
        raise _double_booking() from None
    db.session.expire(slot, ["booked"])
    _enqueue_reminders(appointment, slot, resident)
    audit.record(actor, resident.id, action="create", section="appointment")
    log.info("appointment %s booked: slot %s resident %s by %s", appointment.id, slot.id, resident.id, actor.key)
    return appointment


def _place(team_id: int) -> str:
    row = db.session.execute(select(Team.name, Institution.name).join(Institution, Institution.id == Team.institution_id)
                             .where(Team.id == team_id)).first()
    return f"{row[1]}{row[0]}" if row else ""


def _payload(appointment: Appointment, person: str, place: str) -> dict:
    return {"appointment_id": appointment.id, "service": appointment.service,
            "service_name": service_name(appointment.service), "when": local_text(appointment.starts_at),
            "place": place, "person": person, "page": f"pages/appointments/detail?id={appointment.id}"}


def _enqueue_reminders(appointment: Appointment, slot: Slot, resident: Resident) -> None:
    """The day-before (at a civil hour) and the "soon" reminders, if their time is still ahead."""
    at = now()
    payload = _payload(appointment, resident.name, _place(slot.team_id))
    recipient = notify.resident(appointment.contact_resident_id)
    day_before_at = at_local(appointment.scheduled_on - timedelta(days=1), setting("DAY_BEFORE_REMINDER_HOUR"))
    soon_at = appointment.starts_at - timedelta(minutes=setting("SOON_REMINDER_MINUTES_BEFORE"))
    clock = payload["when"][-5:]
    if day_before_at > at:
        notify.enqueue(recipient, DAY_BEFORE, f"appointment:{appointment.id}:day_before",
                       {**payload, "title": f"明天{clock} {payload['service_name']}",
                        "body": f"{resident.name}明天 {clock} 在{payload['place']}有{payload['service_name']}预约，"
                                f"请按时前往；不能前往请提前取消。"}, day_before_at)
    if soon_at > at:
        notify.enqueue(recipient, SOON, f"appointment:{appointment.id}:soon",
                       {**payload, "title": f"{clock} {payload['service_name']}即将开始",
                        "body": f"{resident.name}的{payload['service_name']}预约将于 {clock} 开始，"
                                f"地点：{payload['place']}。"}, soon_at)


def _withdraw(appointment_ids) -> None:
    # One statement per appointment; callers pass at most a slot's capacity.
    for appointment_id in appointment_ids:
        notify.withdraw(f"appointment:{appointment_id}:")


def _notify_cancelled(appointment_ids: list[int], reason: str | None) -> int:
    rows = db.session.execute(
        select(Appointment.id, Appointment.contact_resident_id, Appointment.service, Appointment.starts_at,
               Appointment.team_id, Appointment.cancel_reason, Resident.name)
        .join(Resident, Resident.id == Appointment.resident_id).where(Appointment.id.in_(appointment_ids))).all()
    places: dict[int, str] = {}
    items = []
    for row in rows:
        if row.team_id not in places:
            places[row.team_id] = _place(row.team_id)
        why = reason or CANCEL_REASON_TEXT.get(row.cancel_reason, "")
        payload = {"appointment_id": row.id, "service": row.service, "service_name": service_name(row.service),
                   "when": local_text(row.starts_at), "place": places[row.team_id], "person": row.name,
                   "reason": why, "page": "pages/appointments/index",
                   "title": f"{service_name(row.service)}预约已取消",
                   "body": f"{row.name} {local_text(row.starts_at)} 在{places[row.team_id]}的"
                           f"{service_name(row.service)}预约已取消（{why}），可在小程序中重新预约。"}
        items.append((notify.resident(row.contact_resident_id), CANCELLED, f"appointment:{row.id}:cancelled",
                      payload, None))
    return notify.enqueue_many(items)


def _conclude(appointment: Appointment, allowed: tuple[str, ...], values: dict, error_text: str) -> None:
    done = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id, Appointment.status.in_(allowed))
        .values(**values, updated_at=now()).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        db.session.expire(appointment)
        raise Conflict(f"this appointment is {appointment.status}; {error_text}", error="invalid_status")
    db.session.expire(appointment)


def _cancel(actor: Actor, appointment: Appointment, reason: str, note: str | None, *,
            also_lock: tuple[int, ...] = ()) -> None:
    at = now()
    done = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id, Appointment.status == "booked")
        .values(status="cancelled", cancelled_at=at, cancelled_by_kind="staff" if actor.is_staff else "resident",
                cancelled_by_id=actor.id, cancel_reason=reason, cancel_note=note, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        db.session.expire(appointment)
        raise Conflict(f"this appointment is {appointment.status}; only a booked one can be cancelled",
                       error="not_cancellable")
    _lock_slots([appointment.slot_id, *also_lock])
    db.session.execute(update(Slot).where(Slot.id == appointment.slot_id).values(booked=Slot.booked - 1)
                       .execution_options(synchronize_session=False))
    _withdraw([appointment.id])
    db.session.expire(appointment)


def _resident_cutoff(actor: Actor, appointment: Appointment) -> None:
    if actor.is_staff:
        return
    cutoff = appointment.starts_at - timedelta(minutes=setting("RESIDENT_CANCEL_CUTOFF_MINUTES"))
    if now() >= cutoff:
        raise Conflict("it is too late to change this appointment online; please call the team",
                       error="cancel_cutoff_passed")


def cancel(actor: Actor, appointment: Appointment, note: str | None = None) -> Appointment:
    """Residents until the cutoff; staff always (the resident is told)."""
    if appointment.status != "booked":
        raise Conflict(f"this appointment is {appointment.status}; only a booked one can be cancelled",
                       error="not_cancellable")
    _resident_cutoff(actor, appointment)
    _cancel(actor, appointment, "staff" if actor.is_staff else "resident", note)
    if actor.is_staff:
        _notify_cancelled([appointment.id], note)
    audit.record(actor, appointment.resident_id, action="update", section="appointment")
    return appointment


def reschedule(actor: Actor, appointment: Appointment, slot_id: int, note: str | None = None) -> Appointment:
    """Cancel and book in one transaction: if the new booking fails, the old one stands."""
    slot = get_slot(actor, slot_id)
    if slot.id == appointment.slot_id:
        raise Invalid("slot_id", "this is the appointment's current slot")
    if slot.service != appointment.service:
        raise Invalid("slot_id", f"the new slot must be for {appointment.service}")
    if appointment.status != "booked":
        raise Conflict(f"this appointment is {appointment.status}; only a booked one can be moved",
                       error="not_cancellable")
    _resident_cutoff(actor, appointment)
    resident = db.session.get(Resident, appointment.resident_id)
    old_id, old_note, contact = appointment.id, appointment.note, appointment.contact_resident_id
    _cancel(actor, appointment, "rescheduled", None, also_lock=(slot.id,))
    new = _book(actor, resident, slot, service=None, note=note if note is not None else old_note,
                previous=appointment, contact_resident_id=contact)
    db.session.execute(update(Appointment).where(Appointment.id == old_id).values(rescheduled_to_id=new.id)
                       .execution_options(synchronize_session=False))
    db.session.expire(appointment)
    return new


def check_in(actor: Actor, appointment: Appointment) -> Appointment:
    """The resident came (also corrects a no-show marked too early). Pending reminders are withdrawn."""
    if today() < appointment.scheduled_on:
        raise Conflict("check-in opens on the day of the appointment", error="too_early")
    _conclude(appointment, ("booked", "no_show"),
              {"status": "checked_in", "checked_in_at": now(), "checked_in_by_id": actor.id,
               "no_show_at": None, "no_show_by_id": None}, "only a booked appointment can be checked in")
    _withdraw([appointment.id])
    audit.record(actor, appointment.resident_id, action="update", section="appointment")
    return appointment


def mark_no_show(actor: Actor, appointment: Appointment) -> Appointment:
    if now() < appointment.starts_at:
        raise Conflict("a no-show can be marked once the slot has started", error="too_early")
    _conclude(appointment, ("booked",), {"status": "no_show", "no_show_at": now(), "no_show_by_id": actor.id},
              "only a booked appointment can be marked a no-show")
    _withdraw([appointment.id])
    audit.record(actor, appointment.resident_id, action="update", section="appointment")
    return appointment


# --- links for other features ----------------------------------------------------------------

def appointment_for_visit(resident_id: int, service: str | tuple[str, ...], day: date) -> int | None:
    """The checked-in appointment (id) a visit of ``service`` on ``day`` is being recorded against."""
    services = (service,) if isinstance(service, str) else tuple(service)
    return db.session.scalar(
        select(Appointment.id).where(Appointment.resident_id == resident_id, Appointment.service.in_(services),
                                     Appointment.scheduled_on == day, Appointment.status == "checked_in")
        .order_by(Appointment.starts_at, Appointment.id).limit(1))


def complete_appointment(appointment_id: int, source: str, source_id: int | None) -> Appointment:
    """Mark a checked-in appointment completed by what recorded the visit (idempotent per source)."""
    done = db.session.execute(
        update(Appointment).where(Appointment.id == appointment_id, Appointment.status == "checked_in")
        .values(status="completed", completed_at=now(), completion_source=source,
                completion_source_id=source_id, updated_at=now())
        .execution_options(synchronize_session=False)).rowcount
    appointment = db.session.get(Appointment, appointment_id, populate_existing=True)
    if appointment is None:
        raise NotFound("appointment not found")
    if done == 1 or (appointment.status == "completed" and appointment.completion_source == source
                     and appointment.completion_source_id == source_id):
        return appointment
    raise Conflict(f"this appointment is {appointment.status}; only a checked-in one can be completed",
                   error="appointment_not_checked_in")


def _streak_query(resident_ids):
    ranked = (select(Appointment.resident_id, Appointment.status, Appointment.starts_at,
                     func.row_number().over(partition_by=Appointment.resident_id,
                                            order_by=(Appointment.starts_at.desc(), Appointment.id.desc()))
                     .label("rn"))
              .where(Appointment.status.in_(CONCLUDED_STATUSES), Appointment.resident_id.in_(resident_ids))
              .subquery())
    return (select(ranked.c.resident_id, func.max(ranked.c.starts_at).label("last_at"))
            .where(ranked.c.rn <= NO_SHOW_STREAK).group_by(ranked.c.resident_id)
            .having(func.count() == NO_SHOW_STREAK,
                    func.sum(case((ranked.c.status == "no_show", 1), else_=0)) == NO_SHOW_STREAK))


def no_show_flags(resident_ids) -> set[int]:
    """Residents whose three most recent concluded appointments were all no-shows (one query)."""
    if isinstance(resident_ids, (list, set, tuple)):
        resident_ids = list(resident_ids)
        if not resident_ids:
            return set()
    return {row.resident_id for row in db.session.execute(_streak_query(resident_ids))}


def flagged_for_team(team: Team) -> list[dict]:
    """Residents who booked with this team and are flagged for repeated no-shows."""
    booked_here = select(Appointment.resident_id).where(Appointment.team_id == team.id).distinct()
    streaks = _streak_query(booked_here).subquery()
    rows = db.session.execute(
        select(Resident.id, Resident.name, Resident.sex, Resident.birth_on, streaks.c.last_at)
        .join(streaks, streaks.c.resident_id == Resident.id).order_by(streaks.c.last_at.desc(), Resident.id)).all()
    day = today()
    return [{"resident_id": r.id, "name": r.name, "sex": r.sex, "age": age_on(r.birth_on, day),
             "last_no_show_at": r.last_at} for r in rows]


# --- views ---------------------------------------------------------------------------------

def search(actor: Actor, args: dict):
    """A select of (Appointment, resident name, team name, institution name) rows in scope."""
    stmt = (select(Appointment, Resident.name.label("resident_name"), Team.name.label("team_name"),
                   Institution.name.label("institution_name"))
            .join(Resident, Resident.id == Appointment.resident_id)
            .join(Team, Team.id == Appointment.team_id)
            .join(Institution, Institution.id == Team.institution_id)
            .where(appointment_clause(actor)))
    for name in ("resident_id", "team_id", "service", "status"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(Appointment, name) == args[name])
    if args.get("from_") is not None:
        stmt = stmt.where(Appointment.scheduled_on >= args["from_"])
    if args.get("to") is not None:
        stmt = stmt.where(Appointment.scheduled_on <= args["to"])
    upcoming = and_(Appointment.status.in_(("booked", "checked_in")), Appointment.ends_at > now())
    when = args.get("when") or "all"
    if when == "upcoming":
        return stmt.where(upcoming).order_by(Appointment.starts_at, Appointment.id)
    if when == "past":
        stmt = stmt.where(~upcoming)
    return stmt.order_by(Appointment.starts_at.desc(), Appointment.id.desc())


def can_cancel(actor: Actor, appointment: Appointment) -> bool:
    if appointment.status != "booked":
        return False
    if actor.is_staff:
        return True
    return now() < appointment.starts_at - timedelta(minutes=setting("RESIDENT_CANCEL_CUTOFF_MINUTES"))


def present(actor: Actor, appointment: Appointment, *, resident_name: str, team_name: str,
            institution_name: str, flagged: bool) -> dict:
    return {"id": appointment.id, "slot_id": appointment.slot_id, "resident_id": appointment.resident_id,
            "resident_name": resident_name, "service": appointment.service,
            "service_name": service_name(appointment.service), "team_id": appointment.team_id,
            "team_name": team_name, "institution_name": institution_name, "starts_at": appointment.starts_at,
            "ends_at": appointment.ends_at, "date": appointment.scheduled_on, "status": appointment.status,
            "note": appointment.note, "booked_by_kind": appointment.booked_by_kind, "booked_at": appointment.booked_at,
            "cancelled_at": appointment.cancelled_at, "cancel_reason": appointment.cancel_reason,
            "checked_in_at": appointment.checked_in_at, "no_show_at": appointment.no_show_at,
            "completed_at": appointment.completed_at, "rescheduled_from_id": appointment.rescheduled_from_id,
            "rescheduled_to_id": appointment.rescheduled_to_id, "can_cancel": can_cancel(actor, appointment),
            "no_show_flag": flagged}


def present_rows(actor: Actor, rows) -> list[dict]:
    flags = no_show_flags({row.Appointment.resident_id for row in rows})
    return [present(actor, row.Appointment, resident_name=row.resident_name, team_name=row.team_name,
                    institution_name=row.institution_name, flagged=row.Appointment.resident_id in flags)
            for row in rows]


def present_one(actor: Actor, appointment: Appointment) -> dict:
    row = db.session.execute(search(actor, {}).where(Appointment.id == appointment.id)).first()
    if row is None:  # e.g. a staff member booked into a team they do not run
        resident = db.session.get(Resident, appointment.resident_id)
        team = db.session.get(Team, appointment.team_id)
        return present(actor, appointment, resident_name=resident.name, team_name=team.name,
                       institution_name=team.institution.name,
                       flagged=appointment.resident_id in no_show_flags([appointment.resident_id]))
    return present_rows(actor, [row])[0]


def log_reads(actor: Actor, resident_ids) -> None:
    """Staff reading lists of appointments, or an account reading a relative's, is logged."""
    ids = sorted(set(resident_ids))
    if actor.is_staff:
        audit.record_many(actor, ids, action="read", section="appointments", purpose="care")
    else:
        audit.record_many(actor, [i for i in ids if i != actor.resident_id], action="read",
                          section="appointments", purpose="family_access")


def day_view(actor: Actor, team: Team, day: date) -> dict:
    """The team's day: per slot the places held, who checked in, who did not come."""
    slots = list(db.session.scalars(select(Slot).where(Slot.team_id == team.id, Slot.starts_on == day)
                                    .order_by(Slot.starts_at, Slot.id)))
    rows = db.session.execute(
        select(Appointment, Resident.name, Resident.sex, Resident.birth_on)
        .join(Resident, Resident.id == Appointment.resident_id)
        .where(Appointment.team_id == team.id, Appointment.scheduled_on == day)
        .order_by(Appointment.starts_at, Appointment.booked_at, Appointment.id)).all()
    flags = no_show_flags({row.Appointment.resident_id for row in rows})
    by_slot: dict[int, list] = {s.id: [] for s in slots}
    for row in rows:
        by_slot.setdefault(row.Appointment.slot_id, []).append(row)
    out_slots = []
    totals = {"capacity": 0, "booked": 0, "waiting": 0, "checked_in": 0, "no_show": 0, "cancelled": 0}
    for slot in slots:
        entries = by_slot.get(slot.id, [])
        statuses = [row.Appointment.status for row in entries]
        counts = {"capacity": slot.capacity, "booked": slot.booked, "waiting": statuses.count("booked"),
                  "checked_in": statuses.count("checked_in") + statuses.count("completed"),
                  "no_show": statuses.count("no_show"), "cancelled": statuses.count("cancelled")}
        for key, value in counts.items():
            totals[key] += value
        out_slots.append({
            "id": slot.id, "service": slot.service, "service_name": service_name(slot.service),
            "starts_at": slot.starts_at, "ends_at": slot.ends_at, "status": slot.status,
            "available": slot.available, **counts,
            "appointments": [{"id": row.Appointment.id, "resident_id": row.Appointment.resident_id,
                              "name": row.name, "sex": row.sex, "age": age_on(row.birth_on, day),
                              "status": row.Appointment.status, "note": row.Appointment.note,
                              "booked_by_kind": row.Appointment.booked_by_kind,
                              "checked_in_at": row.Appointment.checked_in_at,
                              "no_show_flag": row.Appointment.resident_id in flags}
                             for row in entries if row.Appointment.status != "cancelled"]})
    log_reads(actor, [row.Appointment.resident_id for row in rows if row.Appointment.status != "cancelled"])
    return {"team_id": team.id, "team_name": team.name, "date": day, "slots": out_slots, "totals": totals}
