"""The access log (PIPL art. 51): who read or changed whose archive, why, from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.extensions import db


class AccessLog(db.Model):
    __tablename__ = "access_log"
    __table_args__ = (
        # The archive's access-log page: one resident's rows, newest first (the few ties on at are
        # sorted by id after the index scan). Its cost follows that resident's rows, not the table's.
        Index("ix_access_log_subject_at", "subject_resident_id", "at"),
        # The retention job walks the oldest rows in (at, id) order and stops at the cut-off.
        Index("ix_access_log_at_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_kind: Mapped[str] = mapped_column(String(12))  # resident | family | staff | system
    actor_id: Mapped[int | None]
    actor_display: Mapped[str] = mapped_column(String(100))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    subject_resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    action: Mapped[str] = mapped_column(String(10))  # read | create | update | export
    section: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(40))
    client_ip: Mapped[str | None] = mapped_column(String(45))
