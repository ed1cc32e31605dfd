"""Booking, cancelling, rescheduling, check-in, no-show and completion: an appointment's life.

Concurrency: a place is taken with one conditional UPDATE of the slot's counter in the
booking transaction (works alike on PostgreSQL's row locks and SQLite's single writer);
the partial unique index on (resident, service, local day) rejects a concurrent double
booking, which is answered 409 ``double_booking``. Writers lock appointments first, then
slots by id (``scope.lock_slots``).

Residents book online until ``BOOKING_CLOSES_MINUTES_BEFORE`` the start and cancel or move
until ``RESIDENT_CANCEL_CUTOFF_MINUTES`` before it; staff may do both until the start.

The follow-up visit recorded on the day a resident checked in for a chronic follow-up
completes that appointment (``on_visit_recorded``, a listener of
``app.common.events.visit_recorded``, connected in ``app.wiring``); the appointment keeps
what recorded the visit (``completion_source`` "followup" and the visit's id).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import get_resident
from app.appointments import reminders
from app.appointments.models import HOLDING_STATUSES, SERVICES, Appointment, Slot
from app.appointments.scope import get_slot, lock_slots, serves
from app.audit import services as audit
from app.common.time import now, today
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.residents.models import Resident
from app.residents.populations import populations_of

log = logging.getLogger(__name__)

NOT_ELIGIBLE = {
    "elderly_check": "the elderly health check is for residents aged 65 and over",
    "chronic_followup": "chronic follow-ups are for registered hypertension or type-2 diabetes patients",
    "child_check": "child health checks are for children aged 0-6",
    "prenatal_check": "prenatal checks are for pregnant women",
}


def online_booking_closes_at(slot: Slot) -> datetime:
    """Residents book a slot online until this instant (staff until the start)."""
    return slot.starts_at - timedelta(minutes=current_app.config["BOOKING_CLOSES_MINUTES_BEFORE"])


def resident_cutoff_passed(actor: Actor, appointment: Appointment) -> bool:
    """Too late for a resident to cancel or move this appointment online (staff never are)."""
    if actor.is_staff:
        return False
    minutes = current_app.config["RESIDENT_CANCEL_CUTOFF_MINUTES"]
    return now() >= appointment.starts_at - timedelta(minutes=minutes)


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
    return (
        db.session.scalar(
            select(
                exists().where(
                    Appointment.resident_id == resident_id,
                    Appointment.service == service,
                    Appointment.scheduled_on == day,
                    Appointment.status.in_(HOLDING_STATUSES),
                )
            )
        )
        is True
    )


def _double_booking() -> Conflict:
    return Conflict("this person already has a booking for this service on that day", error="double_booking")


def book(actor: Actor, data: dict) -> Appointment:
    """POST /appointments: a resident for self or family, or staff for a resident in scope."""
    resident = _subject(actor, data.get("resident_id"))
    slot = get_slot(actor, data["slot_id"])
    return _book(actor, resident, slot, service=data.get("service"), note=data.get("note"))


def _book(
    actor: Actor,
    resident: Resident,
    slot: Slot,
    *,
    service: str | None,
    note: str | None,
    previous: Appointment | None = None,
    contact_resident_id: int | None = None,
) -> Appointment:
    if service is not None and service != slot.service:
        raise Invalid("service", f"this slot is for {slot.service}")
    if slot.status != "open":
        raise Conflict("this slot was cancelled", error="slot_cancelled")
    if not serves(slot, resident):
        raise Invalid("slot_id", "this team does not serve the resident's area")
    at = now()
    closes_at = slot.starts_at if actor.is_staff else online_booking_closes_at(slot)
    if at >= closes_at:
        raise Conflict("booking for this slot has closed", error="booking_closed")
    check_eligible(resident, slot.service, slot.starts_on)
    if _holding_exists(resident.id, slot.service, slot.starts_on):
        raise _double_booking()
    # Take a place: one conditional UPDATE, so capacity holds under any concurrency.
    taken = db.session.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.status == "open", Slot.booked < Slot.capacity)
        .values(booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        state = db.session.scalar(select(Slot.status).where(Slot.id == slot.id))
        db.session.rollback()
        if state is None:
            raise NotFound("slot not found")
        if state != "open":
            raise Conflict("this slot was cancelled", error="slot_cancelled")
        raise Conflict("this slot is full", error="slot_full")
    appointment = Appointment(
        slot_id=slot.id,
        resident_id=resident.id,
        team_id=slot.team_id,
        service=slot.service,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        scheduled_on=slot.starts_on,
        status="booked",
        note=note,
        booked_by_kind="staff" if actor.is_staff else "resident",
        booked_by_id=actor.id,
        contact_resident_id=contact_resident_id or (resident.id if actor.is_staff else actor.resident_id),
        booked_at=at,
        rescheduled_from_id=previous.id if previous is not None else None,
        updated_at=at,
    )
    db.session.add(appointment)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent booking for the same person, service and day won
        db.session.rollback()
        raise _double_booking() from None
    db.session.expire(slot, ["booked"])
    reminders.enqueue_reminders(appointment, resident)
    audit.record(actor, resident.id, action="create", section="appointment")
    log.info("appointment %s booked: slot %s resident %s by %s", appointment.id, slot.id, resident.id, actor.key)
    return appointment


def _conclude(appointment: Appointment, allowed: tuple[str, ...], values: dict, error_text: str) -> None:
    done = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status.in_(allowed))
        .values(**values, updated_at=now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        db.session.expire(appointment)
        raise Conflict(f"this appointment is {appointment.status}; {error_text}", error="invalid_status")
    db.session.expire(appointment)


def _cancel(
    actor: Actor, appointment: Appointment, reason: str, note: str | None, *, also_lock: tuple[int, ...] = ()
) -> None:
    at = now()
    done = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "booked")
        .values(
            status="cancelled",
            cancelled_at=at,
            cancelled_by_kind="staff" if actor.is_staff else "resident",
            cancelled_by_id=actor.id,
            cancel_reason=reason,
            cancel_note=note,
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        db.session.expire(appointment)
        raise Conflict(
            f"this appointment is {appointment.status}; only a booked one can be cancelled", error="not_cancellable"
        )
    lock_slots([appointment.slot_id, *also_lock])
    db.session.execute(
        update(Slot)
        .where(Slot.id == appointment.slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    reminders.withdraw([appointment.id])
    db.session.expire(appointment)


def _resident_cutoff(actor: Actor, appointment: Appointment) -> None:
    if resident_cutoff_passed(actor, appointment):
        raise Conflict(
            "it is too late to change this appointment online; please call the team", error="cancel_cutoff_passed"
        )


def cancel(actor: Actor, appointment: Appointment, note: str | None = None) -> Appointment:
    """Residents until the cutoff; staff always (the resident is told)."""
    if appointment.status != "booked":
        raise Conflict(
            f"this appointment is {appointment.status}; only a booked one can be cancelled", error="not_cancellable"
        )
    _resident_cutoff(actor, appointment)
    _cancel(actor, appointment, "staff" if actor.is_staff else "resident", note)
    if actor.is_staff:
        reminders.notify_cancelled([appointment.id], note)
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
        raise Conflict(
            f"this appointment is {appointment.status}; only a booked one can be moved", error="not_cancellable"
        )
    _resident_cutoff(actor, appointment)
    resident = db.session.get(Resident, appointment.resident_id)
    old_id, old_note, contact = appointment.id, appointment.note, appointment.contact_resident_id
    _cancel(actor, appointment, "rescheduled", None, also_lock=(slot.id,))
    new = _book(
        actor,
        resident,
        slot,
        service=None,
        note=note if note is not None else old_note,
        previous=appointment,
        contact_resident_id=contact,
    )
    db.session.execute(
        update(Appointment)
        .where(Appointment.id == old_id)
        .values(rescheduled_to_id=new.id)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(appointment)
    return new


def check_in(actor: Actor, appointment: Appointment) -> Appointment:
    """The resident came (also corrects a no-show marked too early). Pending reminders are withdrawn."""
    if today() < appointment.scheduled_on:
        raise Conflict("check-in opens on the day of the appointment", error="too_early")
    _conclude(
        appointment,
        ("booked", "no_show"),
        {
            "status": "checked_in",
            "checked_in_at": now(),
            "checked_in_by_id": actor.id,
            "no_show_at": None,
            "no_show_by_id": None,
        },
        "only a booked appointment can be checked in",
    )
    reminders.withdraw([appointment.id])
    audit.record(actor, appointment.resident_id, action="update", section="appointment")
    return appointment


def mark_no_show(actor: Actor, appointment: Appointment) -> Appointment:
    if now() < appointment.starts_at:
        raise Conflict("a no-show can be marked once the slot has started", error="too_early")
    _conclude(
        appointment,
        ("booked",),
        {"status": "no_show", "no_show_at": now(), "no_show_by_id": actor.id},
        "only a booked appointment can be marked a no-show",
    )
    reminders.withdraw([appointment.id])
    audit.record(actor, appointment.resident_id, action="update", section="appointment")
    return appointment


# --- completion: the visit recorded for a checked-in appointment ---------------------------------

# The appointment services a follow-up visit is the visit of.
FOLLOWUP_SERVICES = ("chronic_followup",)


def appointment_for_visit(resident_id: int, service: str | tuple[str, ...], day: date) -> int | None:
    """The checked-in appointment (id) a visit of ``service`` on ``day`` is being recorded against."""
    services = (service,) if isinstance(service, str) else tuple(service)
    return db.session.scalar(
        select(Appointment.id)
        .where(
            Appointment.resident_id == resident_id,
            Appointment.service.in_(services),
            Appointment.scheduled_on == day,
            Appointment.status == "checked_in",
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(1)
    )


def complete_appointment(appointment_id: int, source: str, source_id: int | None) -> Appointment:
    """Mark a checked-in appointment completed by what recorded the visit (idempotent per source)."""
    done = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == "checked_in")
        .values(
            status="completed",
            completed_at=now(),
            completion_source=source,
            completion_source_id=source_id,
            updated_at=now(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    appointment = db.session.get(Appointment, appointment_id, populate_existing=True)
    if appointment is None:
        raise NotFound("appointment not found")
    if done == 1 or (
        appointment.status == "completed"
        and appointment.completion_source == source
        and appointment.completion_source_id == source_id
    ):
        return appointment
    raise Conflict(
        f"this appointment is {appointment.status}; only a checked-in one can be completed",
        error="appointment_not_checked_in",
    )


def on_visit_recorded(sender, *, actor, resident_id: int, visited_on: date, visit_id: int, **_) -> None:
    """A follow-up visit was recorded: complete the resident's checked-in follow-up of that day, if any."""
    appointment_id = appointment_for_visit(resident_id, FOLLOWUP_SERVICES, visited_on)
    if appointment_id is None:
        return
    try:
        complete_appointment(appointment_id, "followup", visit_id)
    except Conflict:  # another visit recorded at the same moment completed it: this one stands anyway
        return
    audit.record(actor, resident_id, action="update", section="appointment")
    log.info("appointment %s completed by follow-up visit %s", appointment_id, visit_id)
