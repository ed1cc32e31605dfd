"""Appointment slots (a team's published capacity) and appointments (a resident's place in one).

Design:
- A slot carries its ``capacity`` and a ``booked`` counter. A place is taken with one
  conditional UPDATE (``booked = booked + 1 WHERE booked < capacity AND status = 'open'``)
  in the booking transaction, so capacity holds under any number of concurrent requests;
  a CHECK constraint keeps ``0 <= booked <= capacity`` as the last line of defence.
- "One booking per person, service and day" is a partial unique index over the
  appointments that hold a place that day (booked, checked in, completed), keyed by the
  slot's local date (Asia/Shanghai), so two concurrent requests cannot both succeed.
- Appointments are never deleted: cancelling, rescheduling (cancel + book, linked both
  ways), checking in, no-show and completion are status changes with who and when.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.extensions import db

# service -> (display name, populations that may book it; empty = anyone)
SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "elderly_check": ("老年人健康体检", ("elderly",)),
    "chronic_followup": ("慢病随访", ("hypertension", "t2dm")),
    "child_check": ("儿童健康检查", ("children_0_6",)),
    "prenatal_check": ("产前检查", ("pregnant",)),
    "consultation": ("健康咨询", ()),
}


def service_name(service: str) -> str:
    return SERVICES[service][0]


SLOT_STATUSES = ("open", "cancelled")
# booked → checked_in → completed; booked → no_show (→ checked_in when they turn up late);
# booked → cancelled (by the resident, by staff, by the slot's cancellation, or rescheduled).
APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "no_show", "cancelled")
# Hold a place in the slot (the ``booked`` counter counts these).
PLACE_STATUSES = ("booked", "checked_in", "completed", "no_show")
# Count as "the person's booking for that service that day" (double-booking rule).
HOLDING_STATUSES = ("booked", "checked_in", "completed")
# The visit happened or did not: what the no-show streak looks at.
CONCLUDED_STATUSES = ("checked_in", "completed", "no_show")
CANCEL_REASONS = ("resident", "staff", "slot_cancelled", "rescheduled")

_holding = "status IN ('booked', 'checked_in', 'completed')"


class Slot(db.Model):
    __tablename__ = "appointment_slots"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # A team publishes one open slot per service and start time (patterns can be re-run).
        Index(
            "uq_appointment_slots_open",
            "team_id",
            "service",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_appointment_slots_team_day", "team_id", "starts_on"),
        Index("ix_appointment_slots_service_start", "service", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    service: Mapped[str] = mapped_column(String(30))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_on: Mapped[date] = mapped_column(Date)  # the local (Asia/Shanghai) date of starts_at
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    team: Mapped[Team] = relationship()  # noqa: F821

    @property
    def available(self) -> int:
        return max(self.capacity - self.booked, 0) if self.status == "open" else 0


class Appointment(db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        Index(
            "uq_appointments_resident_service_day",
            "resident_id",
            "service",
            "scheduled_on",
            unique=True,
            sqlite_where=text(_holding),
            postgresql_where=text(_holding),
        ),
        Index("ix_appointments_slot_status", "slot_id", "status"),
        Index("ix_appointments_resident_start", "resident_id", "starts_at"),
        Index("ix_appointments_team_day", "team_id", "scheduled_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slot_id: Mapped[int] = mapped_column(BigId, ForeignKey("appointment_slots.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    # Copied from the slot: the rules and lists read them without a join.
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    service: Mapped[str] = mapped_column(String(30))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_on: Mapped[date] = mapped_column(Date)  # local date of the slot
    status: Mapped[str] = mapped_column(String(12), default="booked")
    note: Mapped[str | None] = mapped_column(String(200))
    # Who booked: a WeChat account (for self or a family member) or a staff member.
    booked_by_kind: Mapped[str] = mapped_column(String(10))  # resident | staff
    booked_by_id: Mapped[int]
    # Whose phone gets the reminders: the booking account's own archive, or the resident.
    contact_resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_kind: Mapped[str | None] = mapped_column(String(10))  # resident | staff
    cancelled_by_id: Mapped[int | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(20))
    cancel_note: Mapped[str | None] = mapped_column(String(200))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    no_show_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    no_show_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What recorded the visit (e.g. "followup" + the visit id, "health_check" + its id).
    completion_source: Mapped[str | None] = mapped_column(String(30))
    completion_source_id: Mapped[int | None] = mapped_column(BigId)
    rescheduled_from_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("appointments.id"))
    rescheduled_to_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("appointments.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    slot: Mapped[Slot] = relationship()
    resident: Mapped[Resident] = relationship(foreign_keys=[resident_id])  # noqa: F821
    team: Mapped[Team] = relationship()  # noqa: F821
