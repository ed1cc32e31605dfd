"""What appointments put in the notification outbox, and what they take back out.

A booking enqueues its two reminders at once, each with its due time (``not_before``):
the day before at a civil hour (``DAY_BEFORE_REMINDER_HOUR``) and shortly before the start
(``SOON_REMINDER_MINUTES_BEFORE``); a reminder whose time has passed is not enqueued.
Cancelling, moving, checking in or marking a no-show withdraws what is still pending
(dedup keys ``appointment:<id>:…``). A cancellation the resident did not ask for is told
to them (``appointment_cancelled``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.appointments.models import Appointment, service_name
from app.appointments.notifications import CANCELLED, DAY_BEFORE, SOON
from app.common.time import at_local, local_tz, now
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import Institution, Team
from app.residents.models import Resident

CANCEL_REASON_TEXT = {
    "staff": "医生团队取消",
    "slot_cancelled": "门诊时段取消",
    "resident": "本人取消",
    "rescheduled": "已改约",
}


def local_text(at: datetime) -> str:
    return at.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")


def place_of(team_id: int) -> str:
    """Where the appointment takes place, as residents read it: institution and team."""
    row = db.session.execute(
        select(Team.name, Institution.name)
        .join(Institution, Institution.id == Team.institution_id)
        .where(Team.id == team_id)
    ).first()
    return f"{row[1]}{row[0]}" if row else ""


def reminder_items(
    *,
    appointment_id: int,
    service: str,
    starts_at: datetime,
    scheduled_on: date,
    contact_resident_id: int,
    person: str,
    place: str,
    at: datetime,
) -> list[tuple]:
    """The outbox items (recipient, kind, dedup key, payload, due) of one booking whose time is ahead of ``at``."""
    when = local_text(starts_at)
    clock = when[-5:]
    name = service_name(service)
    payload = {
        "appointment_id": appointment_id,
        "service": service,
        "service_name": name,
        "when": when,
        "place": place,
        "person": person,
        "page": f"pages/appointments/detail?id={appointment_id}",
    }
    recipient = notify.resident(contact_resident_id)
    day_before_at = at_local(scheduled_on - timedelta(days=1), current_app.config["DAY_BEFORE_REMINDER_HOUR"])
    soon_at = starts_at - timedelta(minutes=current_app.config["SOON_REMINDER_MINUTES_BEFORE"])
    items = []
    if day_before_at > at:
        items.append(
            (
                recipient,
                DAY_BEFORE,
                f"appointment:{appointment_id}:day_before",
                {
                    **payload,
                    "title": f"明天{clock} {name}",
                    "body": f"{person}明天 {clock} 在{place}有{name}预约，请按时前往；不能前往请提前取消。",
                },
                day_before_at,
            )
        )
    if soon_at > at:
        items.append(
            (
                recipient,
                SOON,
                f"appointment:{appointment_id}:soon",
                {
                    **payload,
                    "title": f"{clock} {name}即将开始",
                    "body": f"{person}的{name}预约将于 {clock} 开始，地点：{place}。",
                },
                soon_at,
            )
        )
    return items


def enqueue_reminders(appointment: Appointment, resident: Resident) -> None:
    """The day-before and the "soon" reminders of a new booking, if their time is still ahead."""
    for item in reminder_items(
        appointment_id=appointment.id,
        service=appointment.service,
        starts_at=appointment.starts_at,
        scheduled_on=appointment.scheduled_on,
        contact_resident_id=appointment.contact_resident_id,
        person=resident.name,
        place=place_of(appointment.team_id),
        at=now(),
    ):
        notify.enqueue(*item)


def withdraw(appointment_ids) -> None:
    """Take back the pending reminders of these appointments."""
    # One statement per appointment; callers pass at most a slot's capacity.
    for appointment_id in appointment_ids:
        notify.withdraw(f"appointment:{appointment_id}:")


def notify_cancelled(appointment_ids: list[int], reason: str | None) -> int:
    """Tell each resident their appointment was cancelled (``reason``, else the cancel reason's text)."""
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.contact_resident_id,
            Appointment.service,
            Appointment.starts_at,
            Appointment.team_id,
            Appointment.cancel_reason,
            Resident.name,
        )
        .join(Resident, Resident.id == Appointment.resident_id)
        .where(Appointment.id.in_(appointment_ids))
    ).all()
    places: dict[int, str] = {}
    items = []
    for row in rows:
        if row.team_id not in places:
            places[row.team_id] = place_of(row.team_id)
        why = reason or CANCEL_REASON_TEXT.get(row.cancel_reason, "")
        payload = {
            "appointment_id": row.id,
            "service": row.service,
            "service_name": service_name(row.service),
            "when": local_text(row.starts_at),
            "place": places[row.team_id],
            "person": row.name,
            "reason": why,
            "page": "pages/appointments/index",
            "title": f"{service_name(row.service)}预约已取消",
            "body": f"{row.name} {local_text(row.starts_at)} 在{places[row.team_id]}的"
            f"{service_name(row.service)}预约已取消（{why}），可在小程序中重新预约。",
        }
        items.append(
            (notify.resident(row.contact_resident_id), CANCELLED, f"appointment:{row.id}:cancelled", payload, None)
        )
    return notify.enqueue_many(items)
