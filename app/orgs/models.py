"""The organisation tree, family-doctor teams and their members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import UTCDateTime
from app.extensions import db

# kind -> level of responsibility (DOMAIN.md §2)
INSTITUTION_KINDS = {
    "district_bureau": 1,
    "public_health_institution": 2,
    "community_health_center": 3,
    "township_health_center": 3,
    "community_health_station": 4,
    "village_clinic": 4,
}
# Which kinds may sit directly under which.
ALLOWED_PARENTS = {
    "district_bureau": {None},
    "public_health_institution": {"district_bureau"},
    "community_health_center": {"district_bureau"},
    "township_health_center": {"district_bureau"},
    "community_health_station": {"community_health_center", "township_health_center"},
    "village_clinic": {"township_health_center", "community_health_center"},
}
TEAM_ROLES = ("leader_gp", "nurse", "public_health", "village_doctor", "tcm_doctor", "health_manager")


class Institution(db.Model):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    # Materialised path "/1/4/17/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True)
    service_population: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    parent: Mapped[Institution | None] = relationship(remote_side=[id])

    def is_within(self, other_path: str) -> bool:
        """In the subtree whose root has ``other_path`` (itself included)."""
        return self.path.startswith(other_path)


def subtree_ids(root_path: str):
    """The ids of every institution in the subtree under ``root_path`` (root included), as a
    SELECT to use in ``.in_(...)``: the one way to scope a query to a subtree."""
    return select(Institution.id).where(Institution.path.startswith(root_path))


class Team(db.Model):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("institution_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    institution: Mapped[Institution] = relationship()
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id"
    )


class TeamMember(db.Model):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "staff_id"), Index("ix_team_members_staff", "staff_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    role: Mapped[str] = mapped_column(String(30))

    team: Mapped[Team] = relationship(back_populates="members")
    staff: Mapped[Staff] = relationship()  # noqa: F821  (accounts.models)
