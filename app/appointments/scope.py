"""Who sees which slots and appointments, and the row locks every writer takes in one order.

Deny by default; out of scope reads as 404:
- A resident account books and sees appointments for itself and the family members it
  may act for (``access.scope.resident_ids_for_account``); it sees and books slots of any
  team in the centre subtree (level-3 institution and its stations/clinics) of the
  resident concerned.
- Staff see slots of their institution's subtree and may book residents in scope into them.
  A team's own business — publishing and cancelling slots, its appointments, its day view,
  check-in and no-show — belongs to the team's members, to institution admins of the
  subtree, and to the district admin (``access.scope.managed_teams_clause``).
"""

from __future__ import annotations

from sqlalchemy import exists, false, or_, select, true

from app.access.actors import Actor
from app.access.scope import institution_ids_clause, managed_teams_clause, resident_ids_for_account
from app.appointments.models import Appointment, Slot
from app.errors import NotFound
from app.extensions import db
from app.orgs.models import Institution, Team, subtree_ids
from app.residents.models import Resident


def _path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def centre_paths(resident_ids) -> set[str]:
    """The subtrees these residents book in: each one's level-3 centre (or own institution)."""
    ids = list(resident_ids)
    if not ids:
        return set()
    paths = set(
        db.session.scalars(
            select(Institution.path)
            .join(Resident, Resident.institution_id == Institution.id)
            .where(Resident.id.in_(ids))
        )
    )
    ancestors = {i for path in paths for i in _path_ids(path)}
    centres = dict(
        db.session.execute(
            select(Institution.id, Institution.path).where(Institution.id.in_(ancestors), Institution.level == 3)
        ).all()
    )
    found = set()
    for path in paths:
        found.add(next((centres[i] for i in _path_ids(path) if i in centres), path))
    return found


def _teams_under(paths: set[str]):
    if not paths:
        return select(Team.id).where(false())
    return select(Team.id).where(or_(*[Team.institution_id.in_(subtree_ids(p)) for p in sorted(paths)]))


def slot_clause(actor: Actor, for_resident_ids=None):
    """WHERE over ``Slot``: what the actor may see (and book into)."""
    if actor.is_staff:
        if actor.is_district_admin:
            return true()
        return Slot.team_id.in_(select(Team.id).where(institution_ids_clause(actor, Team.institution_id)))
    ids = resident_ids_for_account(actor) if for_resident_ids is None else for_resident_ids
    return Slot.team_id.in_(_teams_under(centre_paths(ids)))


def serves(slot: Slot, resident: Resident) -> bool:
    """The slot's team works in the resident's centre subtree."""
    return (
        db.session.scalar(
            select(exists().where(Slot.id == slot.id, Slot.team_id.in_(_teams_under(centre_paths([resident.id])))))
        )
        is True
    )


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
        select(Appointment).where(Appointment.id == appointment_id, appointment_clause(actor))
    )
    if appointment is None:
        raise NotFound("appointment not found")
    return appointment


# --- row locks -------------------------------------------------------------------------------


def locking() -> bool:
    """Explicit row locks on PostgreSQL; SQLite has one writer at a time anyway."""
    return db.session.get_bind().dialect.name == "postgresql"


def lock_slots(slot_ids) -> None:
    """Lock slot rows in id order. Rows are always locked appointments first, then slots by
    id, so a reschedule, a cancellation and a slot cancellation racing each other wait
    instead of deadlocking."""
    if locking():
        db.session.execute(
            select(Slot.id).where(Slot.id.in_(sorted(set(slot_ids)))).order_by(Slot.id).with_for_update()
        )
