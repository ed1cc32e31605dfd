"""The archive's basic-information sheet (个人基本信息表), households and diagnoses."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import JSONType, UTCDateTime
from app.extensions import db

RESIDENT_STATUSES = ("active", "moved", "deceased")
RESIDENCY_TYPES = ("registered", "non_registered")  # 户籍 / 非户籍 (常住 ≥ half a year)
DISEASES = ("hypertension", "t2dm", "severe_mental", "tuberculosis", "coronary", "stroke", "copd")


class Household(db.Model):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str | None] = mapped_column(String(200))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Resident(db.Model):
    __tablename__ = "residents"
    __table_args__ = (
        Index("ix_residents_institution_birth", "institution_id", "birth_on"),
        Index("ix_residents_team", "team_id"),
        Index("ix_residents_household", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    archive_no: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    # Never in plain text: Fernet token, and an HMAC for equality lookups. Null only for a newborn
    # whose archive the delivery opened before the household registration gave the ID number.
    id_number_enc: Mapped[str | None] = mapped_column(String(255))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sex: Mapped[str] = mapped_column(String(6))
    birth_on: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    relation_to_head: Mapped[str | None] = mapped_column(String(20))
    residency_type: Mapped[str] = mapped_column(String(20), default="registered")
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    # The responsible family-doctor team (责任团队), set when the resident is assigned or signs.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    status: Mapped[str] = mapped_column(String(10), default="active")
    status_changed_on: Mapped[date | None] = mapped_column(Date)

    ethnicity: Mapped[str | None] = mapped_column(String(20))
    marital_status: Mapped[str | None] = mapped_column(String(20))
    education: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str | None] = mapped_column(String(40))
    blood_type: Mapped[str | None] = mapped_column(String(10))
    payment_methods: Mapped[list] = mapped_column(JSONType, default=list)
    allergies: Mapped[list] = mapped_column(JSONType, default=list)
    exposures: Mapped[list] = mapped_column(JSONType, default=list)
    past_history: Mapped[list] = mapped_column(JSONType, default=list)
    family_history: Mapped[list] = mapped_column(JSONType, default=list)
    disabilities: Mapped[list] = mapped_column(JSONType, default=list)
    living_environment: Mapped[dict] = mapped_column(JSONType, default=dict)

    # Population flags that cannot be derived from age or diagnoses.
    disabled_certified: Mapped[bool] = mapped_column(default=False)
    poverty_alleviated: Mapped[bool] = mapped_column(default=False)
    special_family: Mapped[bool] = mapped_column(default=False)
    pregnancy_due_on: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    household: Mapped[Household | None] = relationship()
    institution: Mapped[Institution] = relationship()  # noqa: F821
    conditions: Mapped[list[Condition]] = relationship(back_populates="resident", order_by="Condition.id")


class Condition(db.Model):
    """A diagnosis on record (慢病登记): makes the resident a managed patient."""

    __tablename__ = "conditions"
    __table_args__ = (
        UniqueConstraint("resident_id", "disease"),
        Index("ix_conditions_disease_active", "disease", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    disease: Mapped[str] = mapped_column(String(20))
    diagnosed_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    resident: Mapped[Resident] = relationship(back_populates="conditions")
