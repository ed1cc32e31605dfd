"""What staff and residents read: slot and appointment lists, one appointment, the team's day.

Reading appointments of others is logged (``log_reads``): staff reading lists for care, an
account reading a relative's for family access.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, select

from app.access.actors import Actor
from app.access.scope import get_resident
from app.appointments.booking import online_booking_closes_at, resident_cutoff_passed
from app.appointments.models import Appointment, Slot, service_name
from app.appointments.no_shows import no_show_flags
from app.appointments.scope import appointment_clause, slot_clause
from app.audit import services as audit
from app.common.time import age_on, now, today
from app.extensions import db
from app.orgs.models import Institution, Team
from app.residents.models import Resident

# --- slots -----------------------------------------------------------------------------------


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
    closes_at = online_booking_closes_at(slot)
    return {
        "id": slot.id,
        "team_id": slot.team_id,
        "team_name": (team_names or {}).get(slot.team_id) or (slot.team.name if slot.team else None),
        "service": slot.service,
        "service_name": service_name(slot.service),
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "date": slot.starts_on,
        "capacity": slot.capacity,
        "booked": slot.booked,
        "available": slot.available,
        "status": slot.status,
        "note": slot.note,
        "booking_closes_at": closes_at,
        "bookable": slot.available > 0 and now() < closes_at,
        "cancelled_at": slot.cancelled_at,
        "cancel_reason": slot.cancel_reason,
    }


def present_slots(slots: list[Slot]) -> list[dict]:
    names = (
        dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_({s.team_id for s in slots}))).all())
        if slots
        else {}
    )
    return [present_slot(s, names) for s in slots]


# --- appointments ------------------------------------------------------------------------------


def search(actor: Actor, args: dict):
    """A select of (Appointment, resident name, team name, institution name) rows in scope."""
    stmt = (
        select(
            Appointment,
            Resident.name.label("resident_name"),
            Team.name.label("team_name"),
            Institution.name.label("institution_name"),
        )
        .join(Resident, Resident.id == Appointment.resident_id)
        .join(Team, Team.id == Appointment.team_id)
        .join(Institution, Institution.id == Team.institution_id)
        .where(appointment_clause(actor))
    )
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
    return appointment.status == "booked" and not resident_cutoff_passed(actor, appointment)


def present(
    actor: Actor, appointment: Appointment, *, resident_name: str, team_name: str, institution_name: str, flagged: bool
) -> dict:
    return {
        "id": appointment.id,
        "slot_id": appointment.slot_id,
        "resident_id": appointment.resident_id,
        "resident_name": resident_name,
        "service": appointment.service,
        "service_name": service_name(appointment.service),
        "team_id": appointment.team_id,
        "team_name": team_name,
        "institution_name": institution_name,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "date": appointment.scheduled_on,
        "status": appointment.status,
        "note": appointment.note,
        "booked_by_kind": appointment.booked_by_kind,
        "booked_at": appointment.booked_at,
        "cancelled_at": appointment.cancelled_at,
        "cancel_reason": appointment.cancel_reason,
        "checked_in_at": appointment.checked_in_at,
        "no_show_at": appointment.no_show_at,
        "completed_at": appointment.completed_at,
        "rescheduled_from_id": appointment.rescheduled_from_id,
        "rescheduled_to_id": appointment.rescheduled_to_id,
        "can_cancel": can_cancel(actor, appointment),
        "no_show_flag": flagged,
    }


def present_rows(actor: Actor, rows) -> list[dict]:
    flags = no_show_flags({row.Appointment.resident_id for row in rows})
    return [
        present(
            actor,
            row.Appointment,
            resident_name=row.resident_name,
            team_name=row.team_name,
            institution_name=row.institution_name,
            flagged=row.Appointment.resident_id in flags,
        )
        for row in rows
    ]


def present_one(actor: Actor, appointment: Appointment) -> dict:
    row = db.session.execute(search(actor, {}).where(Appointment.id == appointment.id)).first()
    if row is None:  # e.g. a staff member booked into a team they do not run
        resident = db.session.get(Resident, appointment.resident_id)
        team = db.session.get(Team, appointment.team_id)
        return present(
            actor,
            appointment,
            resident_name=resident.name,
            team_name=team.name,
            institution_name=team.institution.name,
            flagged=appointment.resident_id in no_show_flags([appointment.resident_id]),
        )
    return present_rows(actor, [row])[0]


def log_reads(actor: Actor, resident_ids) -> None:
    """Staff reading lists of appointments, or an account reading a relative's, is logged."""
    ids = sorted(set(resident_ids))
    if actor.is_staff:
        audit.record_many(actor, ids, action="read", section="appointments", purpose="care")
    else:
        audit.record_many(
            actor,
            [i for i in ids if i != actor.resident_id],
            action="read",
            section="appointments",
            purpose="family_access",
        )


def day_view(actor: Actor, team: Team, day: date) -> dict:
    """The team's day: per slot the places held, who checked in, who did not come."""
    slots = list(
        db.session.scalars(
            select(Slot).where(Slot.team_id == team.id, Slot.starts_on == day).order_by(Slot.starts_at, Slot.id)
        )
    )
    rows = db.session.execute(
        select(Appointment, Resident.name, Resident.sex, Resident.birth_on)
        .join(Resident, Resident.id == Appointment.resident_id)
        .where(Appointment.team_id == team.id, Appointment.scheduled_on == day)
        .order_by(Appointment.starts_at, Appointment.booked_at, Appointment.id)
    ).all()
    flags = no_show_flags({row.Appointment.resident_id for row in rows})
    by_slot: dict[int, list] = {s.id: [] for s in slots}
    for row in rows:
        by_slot.setdefault(row.Appointment.slot_id, []).append(row)
    out_slots = []
    totals = {"capacity": 0, "booked": 0, "waiting": 0, "checked_in": 0, "no_show": 0, "cancelled": 0}
    for slot in slots:
        entries = by_slot.get(slot.id, [])
        statuses = [row.Appointment.status for row in entries]
        counts = {
            "capacity": slot.capacity,
            "booked": slot.booked,
            "waiting": statuses.count("booked"),
            "checked_in": statuses.count("checked_in") + statuses.count("completed"),
            "no_show": statuses.count("no_show"),
            "cancelled": statuses.count("cancelled"),
        }
        for key, value in counts.items():
            totals[key] += value
        out_slots.append(
            {
                "id": slot.id,
                "service": slot.service,
                "service_name": service_name(slot.service),
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "status": slot.status,
                "available": slot.available,
                **counts,
                "appointments": [
                    {
                        "id": row.Appointment.id,
                        "resident_id": row.Appointment.resident_id,
                        "name": row.name,
                        "sex": row.sex,
                        "age": age_on(row.birth_on, day),
                        "status": row.Appointment.status,
                        "note": row.Appointment.note,
                        "booked_by_kind": row.Appointment.booked_by_kind,
                        "checked_in_at": row.Appointment.checked_in_at,
                        "no_show_flag": row.Appointment.resident_id in flags,
                    }
                    for row in entries
                    if row.Appointment.status != "cancelled"
                ],
            }
        )
    log_reads(actor, [row.Appointment.resident_id for row in rows if row.Appointment.status != "cancelled"])
    return {"team_id": team.id, "team_name": team.name, "date": day, "slots": out_slots, "totals": totals}
