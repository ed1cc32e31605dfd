"""Publishing slots (one by one, as a list, or as a weekly pattern), cancelling and deleting them.

A slot is a team's published capacity for one service at one time (``models.Slot``). A
team publishes one open slot per service and start: a pattern re-run skips what exists.
Cancelling a slot cancels its booked appointments, withdraws their reminders and tells
each resident; a slot nobody ever booked may be deleted instead.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import get_managed_team
from app.appointments import holidays, reminders
from app.appointments.models import Appointment, Slot
from app.appointments.scope import locking
from app.audit import services as audit
from app.common.time import at_local, ensure_utc, local_tz, now
from app.errors import Conflict, Invalid
from app.extensions import db
from app.orgs.models import Team

log = logging.getLogger(__name__)

MAX_PATTERN_DAYS = 366
MAX_SLOTS_PER_REQUEST = 1000


def local_date(at: datetime) -> date:
    return at.astimezone(local_tz()).date()


def _check_slot_times(starts_at: datetime, ends_at: datetime, prefix: str = "") -> None:
    if starts_at <= now():
        raise Invalid(f"{prefix}starts_at", "must be in the future")
    if ends_at <= starts_at:
        raise Invalid(f"{prefix}ends_at", "must be after starts_at")
    if local_date(ends_at - timedelta(microseconds=1)) != local_date(starts_at):
        raise Invalid(f"{prefix}ends_at", "a slot ends on the day it starts (local time)")


def _new_slot(
    actor: Actor,
    team: Team,
    service: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    note: str | None = None,
) -> Slot:
    # Stored and answered in UTC, whatever offset the client wrote (the answer is built before the commit).
    starts_at, ends_at = ensure_utc(starts_at), ensure_utc(ends_at)
    return Slot(
        team_id=team.id,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        starts_on=local_date(starts_at),
        capacity=capacity,
        booked=0,
        status="open",
        note=note,
        created_by_id=actor.id,
        created_at=now(),
    )


def _flush_slots() -> None:
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request published the same slot
        db.session.rollback()
        raise Conflict(
            "this team already has an open slot for this service at that time", error="slot_exists"
        ) from None


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
    existing = {
        (row.team_id, row.service, row.starts_at)
        for row in db.session.execute(
            select(Slot.team_id, Slot.service, Slot.starts_at).where(
                Slot.status == "open",
                Slot.team_id.in_(list(teams)),
                Slot.starts_at.in_(sorted({item["starts_at"] for item in items})),
            )
        )
    }
    for index, item in enumerate(items):
        if (item["team_id"], item["service"], item["starts_at"]) in existing:
            raise Conflict(
                f"item {index}: this team already has an open slot for this service at that time"
                if many
                else "this team already has an open slot for this service at that time",
                error="slot_exists",
            )
    slots = [
        _new_slot(
            actor,
            teams[item["team_id"]],
            item["service"],
            item["starts_at"],
            item["ends_at"],
            item["capacity"],
            item.get("note"),
        )
        for item in items
    ]
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
    existing = set(
        db.session.scalars(
            select(Slot.starts_at).where(
                Slot.team_id == team.id,
                Slot.service == service,
                Slot.status == "open",
                Slot.starts_on >= starts_on,
                Slot.starts_on <= ends_on,
            )
        )
    )
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
    log.info(
        "staff %s published a pattern for team %s: %d slots, %d skipped", actor.id, team.id, len(created), len(skipped)
    )
    return {"created": created, "skipped": skipped}


def cancel_slot(actor: Actor, slot: Slot, reason: str | None) -> Slot:
    """Cancel a slot: its booked appointments are cancelled and those residents told."""
    at = now()
    if slot.ends_at <= at:
        raise Conflict("this slot is over", error="slot_over")
    if locking():  # appointments before the slot: the lock order every writer keeps
        db.session.execute(
            select(Appointment.id)
            .where(Appointment.slot_id == slot.id, Appointment.status == "booked")
            .order_by(Appointment.id)
            .with_for_update()
        )
    done = db.session.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.status == "open")
        .values(status="cancelled", cancelled_at=at, cancelled_by_id=actor.id, cancel_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict("this slot is already cancelled", error="slot_cancelled")
    ids = list(
        db.session.scalars(
            update(Appointment)
            .where(Appointment.slot_id == slot.id, Appointment.status == "booked")
            .values(
                status="cancelled",
                cancelled_at=at,
                cancelled_by_kind="staff",
                cancelled_by_id=actor.id,
                cancel_reason="slot_cancelled",
                cancel_note=reason,
                updated_at=at,
            )
            .returning(Appointment.id)
            .execution_options(synchronize_session=False)
        )
    )
    if ids:
        db.session.execute(
            update(Slot)
            .where(Slot.id == slot.id)
            .values(booked=Slot.booked - len(ids))
            .execution_options(synchronize_session=False)
        )
        reminders.withdraw(ids)
        reminders.notify_cancelled(ids, reason)
        audit.record_many(
            actor,
            db.session.scalars(select(Appointment.resident_id).where(Appointment.id.in_(ids))),
            action="update",
            section="appointment",
            purpose="care",
        )
    db.session.expire(slot)
    log.info("staff %s cancelled slot %s (%d appointments)", actor.id, slot.id, len(ids))
    return slot


def delete_slot(actor: Actor, slot: Slot) -> None:
    """Delete a slot nobody ever booked (with bookings: cancel it instead → 409)."""
    done = db.session.execute(
        delete(Slot)
        .where(Slot.id == slot.id, Slot.booked == 0, ~exists().where(Appointment.slot_id == Slot.id))
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict("this slot has bookings; cancel it instead", error="slot_has_bookings")
    db.session.expunge(slot)
