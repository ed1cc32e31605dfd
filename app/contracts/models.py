"""Service packages (versioned), contracts (one row per resident and period), entitlements, deliveries.

Design:
- A package is identified by ``code`` and changes by **versions**: a version that any
  contract refers to is never edited in place; editing it adds ``version + 1`` and marks
  the old one ``superseded``. Contracts keep the version they applied for.
- A contract is one resident's agreement with one team for one period. A family that
  signs together shares a :class:`FamilyGroup`; a renewal points at the contract it
  continues (``previous_contract_id``).
- "One current contract per resident" is a partial unique index over the statuses
  ``pending`` and ``active``, so two concurrent applications cannot both succeed.
- Entitlements (:class:`ContractItem`) copy each package item's yearly count as the
  period's ``total``; ``delivered`` is a counter kept ≤ ``total`` by a CHECK constraint and
  moved with one conditional UPDATE, and every delivery is a row (:class:`ContractDelivery`)
  linked to what delivered it (a manual entry, a follow-up visit, a health check …).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

PACKAGE_KINDS = ("basic", "personalized")
PACKAGE_STATUSES = ("active", "superseded", "retired")
# What a package item delivers. Other features count deliveries by these names
# (follow-ups: "chronic_followup", health checks: "health_check").
SERVICE_TYPES = (
    "health_check",  # 健康体检 / 年度健康评估
    "chronic_followup",  # 慢病随访
    "health_education",  # 健康教育
    "consultation",  # 健康咨询
    "home_visit",  # 上门服务
    "tcm_guidance",  # 中医药健康指导 / 体质辨识
    "child_health_check",  # 儿童健康检查
    "prenatal_check",  # 产前检查
    "postpartum_visit",  # 产后访视
    "lab_test",  # 检验检查
    "rehabilitation",  # 康复指导
    "medication_guidance",  # 用药指导
    "cognitive_screening",  # 认知功能筛查
    "referral",  # 转诊服务
    "other",
)
# pending: applied, waiting for the team · renewal_pending: a renewal asked for while the
# current period still runs · scheduled: signed, its period starts later · active · rejected
# · terminated · expired (its period ended).
CONTRACT_STATUSES = ("pending", "renewal_pending", "scheduled", "active", "rejected", "terminated", "expired")
OPEN_STATUSES = ("pending", "renewal_pending", "scheduled", "active")  # block a new application
CHANNELS = ("mini_program", "qr_code", "clinic")
RESIDENT_CHANNELS = ("mini_program", "qr_code")
STAFF_CHANNELS = ("clinic",)
# docs/domain.md §5: moved away, unreachable for a year, refused service for a year, voluntary.
TERMINATION_REASONS = ("moved_away", "unreachable", "refused_service", "voluntary")


class ServicePackage(db.Model):
    __tablename__ = "service_packages"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        # One current version per code.
        Index(
            "uq_service_packages_current_code",
            "code",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    # Target populations (residents.populations names); empty for the basic package (everyone).
    populations: Mapped[list] = mapped_column(JSONType, default=list)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    # The programme's public-health share paid per contract (district recommendation: 30 yuan).
    public_health_subsidy: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="active")
    owner_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("service_packages.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    items: Mapped[list[PackageItem]] = relationship(
        back_populates="package", cascade="all, delete-orphan", order_by="PackageItem.position"
    )
    offered_by: Mapped[list[PackageInstitution]] = relationship(
        cascade="all, delete-orphan", order_by="PackageInstitution.institution_id"
    )

    @property
    def institution_ids(self) -> list[int]:
        return [row.institution_id for row in self.offered_by]


class PackageItem(db.Model):
    __tablename__ = "package_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("service_packages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(100))
    service_type: Mapped[str] = mapped_column(String(30))
    times_per_year: Mapped[int]

    package: Mapped[ServicePackage] = relationship(back_populates="items")


class PackageInstitution(db.Model):
    """An institution that offers a package (to its own residents and its subtree's)."""

    __tablename__ = "package_institutions"
    __table_args__ = (Index("ix_package_institutions_institution", "institution_id"),)

    package_id: Mapped[int] = mapped_column(ForeignKey("service_packages.id", ondelete="CASCADE"), primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), primary_key=True)


class FamilyGroup(db.Model):
    """Members of one household signing together (以家庭为单位签约)."""

    __tablename__ = "contract_family_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Contract(db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        # The DB-level guarantee of "one current contract per resident".
        Index(
            "uq_contracts_current_resident",
            "resident_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'active')"),
            postgresql_where=text("status IN ('pending', 'active')"),
        ),
        # A contract is continued by at most one renewal (a rejected renewal does not count).
        Index(
            "uq_contracts_previous",
            "previous_contract_id",
            unique=True,
            sqlite_where=text("previous_contract_id IS NOT NULL AND status <> 'rejected'"),
            postgresql_where=text("previous_contract_id IS NOT NULL AND status <> 'rejected'"),
        ),
        Index("ix_contracts_resident_starts", "resident_id", "starts_on"),
        Index("ix_contracts_team_status", "team_id", "status"),
        Index("ix_contracts_status_ends", "status", "ends_on"),
        Index("ix_contracts_family_group", "family_group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # responsible doctor
    family_group_id: Mapped[int | None] = mapped_column(ForeignKey("contract_family_groups.id"))
    previous_contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    channel: Mapped[str] = mapped_column(String(16))
    # Who applied: a WeChat account ("resident") or a staff member in clinic.
    applicant_kind: Mapped[str] = mapped_column(String(10))
    applicant_id: Mapped[int]
    # Explicit consent (PIPL art. 29/31): when, through which channel, given by whom.
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_channel: Mapped[str] = mapped_column(String(16))
    consent_by_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    guardian_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    terminated_on: Mapped[date | None] = mapped_column(Date)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_by_kind: Mapped[str | None] = mapped_column(String(10))  # staff | resident
    terminated_by_id: Mapped[int | None]
    termination_reason: Mapped[str | None] = mapped_column(String(20))
    termination_note: Mapped[str | None] = mapped_column(String(200))
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    public_health_subsidy: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    resident: Mapped[Resident] = relationship(foreign_keys=[resident_id])  # noqa: F821
    team: Mapped[Team] = relationship()  # noqa: F821
    doctor: Mapped[Staff | None] = relationship(foreign_keys=[doctor_id])  # noqa: F821
    packages: Mapped[list[ContractPackage]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractPackage.id"
    )
    items: Mapped[list[ContractItem]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractItem.id"
    )


class ContractPackage(db.Model):
    """A package version a contract carries, with the price at application."""

    __tablename__ = "contract_packages"
    __table_args__ = (
        UniqueConstraint("contract_id", "package_id"),
        Index("ix_contract_packages_package", "package_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    package_id: Mapped[int] = mapped_column(ForeignKey("service_packages.id"))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    contract: Mapped[Contract] = relationship(back_populates="packages")
    package: Mapped[ServicePackage] = relationship()


class ContractItem(db.Model):
    """An entitlement: one package item, ``total`` due in the period, ``delivered`` so far."""

    __tablename__ = "contract_items"
    __table_args__ = (
        UniqueConstraint("contract_id", "package_item_id"),
        CheckConstraint("delivered >= 0 AND delivered <= total", name="delivered_within_total"),
        Index("ix_contract_items_service_type", "service_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    package_id: Mapped[int] = mapped_column(ForeignKey("service_packages.id"))
    package_item_id: Mapped[int] = mapped_column(ForeignKey("package_items.id"))
    name: Mapped[str] = mapped_column(String(100))
    service_type: Mapped[str] = mapped_column(String(30))
    total: Mapped[int]
    delivered: Mapped[int] = mapped_column(default=0)

    contract: Mapped[Contract] = relationship(back_populates="items")

    @property
    def remaining(self) -> int:
        return self.total - self.delivered


class ContractDelivery(db.Model):
    """One delivered service (履约), linked to whatever delivered it."""

    __tablename__ = "contract_deliveries"
    __table_args__ = (
        Index("ix_contract_deliveries_contract", "contract_id", "delivered_on"),
        Index("ix_contract_deliveries_item", "contract_item_id"),
        # The same visit is never counted twice for the same kind of service.
        Index(
            "uq_contract_deliveries_source",
            "source",
            "source_id",
            "service_type",
            unique=True,
            sqlite_where=text("source_id IS NOT NULL"),
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    contract_item_id: Mapped[int] = mapped_column(BigId, ForeignKey("contract_items.id", ondelete="CASCADE"))
    service_type: Mapped[str] = mapped_column(String(30))
    delivered_on: Mapped[date] = mapped_column(Date)
    delivered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(30), default="manual")  # manual | followup | health_check | demo …
    source_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
