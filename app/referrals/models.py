"""The referral record (app.referrals)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.extensions import db

DIRECTIONS = ("up", "down")  # 上转: to a hospital; 下转: from a hospital back to the team
URGENCIES = ("routine", "urgent")
STATUSES = ("issued", "received", "returned", "cancelled")
UNRESOLVED = ("issued", "received")
# A follow-up after a return is owed within this many days (the national rule: within 2 weeks).
RETURN_FOLLOWUP_DAYS = 14


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_resident", "resident_id", "issued_on"),
        Index("ix_referrals_team_status", "team_id", "status"),
        Index("ix_referrals_issued_on", "issued_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))  # the resident's team when issued
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))  # the issuing institution
    direction: Mapped[str] = mapped_column(String(4))
    # where to (up) or where from (down): an institution of the tree, or a named outside hospital
    to_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    to_hospital_name: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    urgency: Mapped[str] = mapped_column(String(10))
    source_visit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("followup_visits.id"))
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    received_on: Mapped[date | None] = mapped_column(Date)
    returned_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)  # the hospital's diagnosis and treatment
    advice: Mapped[str | None] = mapped_column(Text)  # what the team should do next
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # the day the patient was back with the team: an up referral's return, a down referral's receipt
    back_on: Mapped[date | None] = mapped_column(Date)
    # the first follow-up on or after the return (the 2-week indicator's numerator)
    followed_up_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
