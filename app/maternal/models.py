"""A pregnancy and its visits (孕产妇健康管理服务规范: 第1次产前检查服务记录表, 第2~5次产前随访服务记录表,
产后访视记录表, 产后42天健康检查记录表).

- :class:`Pregnancy` is one pregnancy of a resident, ``ongoing`` from registration (建册) until the
  delivery ends it (``delivered``: live birth or stillbirth) or it ends early (``ended``: miscarriage,
  induced abortion). At most one is ongoing per resident (a partial unique index). Its dates are
  derived: gestational age from the last menstrual period, the expected delivery date (LMP + 280
  days; the basic sheet's ``pregnancy_due_on`` is this, kept while the pregnancy is ongoing).
- :class:`AntenatalVisit` is one antenatal visit; ``slot`` names the schedule's visit it fulfils
  (``app.maternal.schedule``), null for an extra visit within an already fulfilled window.
- :class:`Birth` is one baby of a delivery: a live-born baby has an archive (``resident_id``).
- :class:`PostpartumVisit` is the home visit after discharge or the 42-day check.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

PREGNANCY_STATUSES = ("ongoing", "delivered", "ended")
OUTCOMES = ("live_birth", "stillbirth", "miscarriage", "induced")
DELIVERED_OUTCOMES = ("live_birth", "stillbirth")  # the delivery ends the pregnancy with a birth
_ONGOING = text("status = 'ongoing'")


class Pregnancy(db.Model):
    __tablename__ = "pregnancies"
    __table_args__ = (
        Index("uq_pregnancies_ongoing", "resident_id", unique=True, postgresql_where=_ONGOING, sqlite_where=_ONGOING),
        Index("ix_pregnancies_resident", "resident_id"),
        Index("ix_pregnancies_delivered_on", "delivered_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    status: Mapped[str] = mapped_column(String(10), default="ongoing")
    registered_on: Mapped[date] = mapped_column(Date)  # 建册
    last_menstrual_on: Mapped[date] = mapped_column(Date)
    expected_on: Mapped[date] = mapped_column(Date)  # 预产期: LMP + 280 days
    gestational_days_at_registration: Mapped[int] = mapped_column(SmallInteger)
    early_registration: Mapped[bool] = mapped_column(Boolean)  # registered before 13 weeks
    gravidity: Mapped[int | None] = mapped_column(SmallInteger)  # 孕次
    parity: Mapped[int | None] = mapped_column(SmallInteger)  # 产次
    risk_factors: Mapped[list] = mapped_column(JSONType, default=list)  # 高危因素, from registration and visits
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    outcome: Mapped[str | None] = mapped_column(String(12))
    delivered_on: Mapped[date | None] = mapped_column(Date)  # the day the pregnancy ended
    discharged_on: Mapped[date | None] = mapped_column(Date)
    delivery_place: Mapped[str | None] = mapped_column(String(100))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class AntenatalVisit(db.Model):
    __tablename__ = "antenatal_visits"
    __table_args__ = (
        Index("ix_antenatal_visits_pregnancy", "pregnancy_id", "visit_on"),
        Index("ix_antenatal_visits_resident", "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancies.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    visit_on: Mapped[date] = mapped_column(Date)
    gestational_days: Mapped[int] = mapped_column(SmallInteger)
    slot: Mapped[str | None] = mapped_column(String(12))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    sbp: Mapped[int | None] = mapped_column(SmallInteger)
    dbp: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    fundal_height_cm: Mapped[float | None] = mapped_column(Float)  # 宫底高度
    abdominal_circumference_cm: Mapped[float | None] = mapped_column(Float)  # 腹围
    fetal_heart_rate: Mapped[int | None] = mapped_column(SmallInteger)  # 胎心率, /min
    fetal_position: Mapped[str | None] = mapped_column(String(20))  # 胎位
    hemoglobin: Mapped[float | None] = mapped_column(Float)  # g/L
    urine_protein: Mapped[str | None] = mapped_column(String(4))  # - ± + ++ +++
    risk_factors: Mapped[list] = mapped_column(JSONType, default=list)  # found at this visit
    classification: Mapped[str | None] = mapped_column(String(10))  # normal | abnormal
    guidance: Mapped[list] = mapped_column(JSONType, default=list)
    referred: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Birth(db.Model):
    __tablename__ = "births"
    __table_args__ = (Index("ix_births_pregnancy", "pregnancy_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancies.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)  # live-born: the archive
    live: Mapped[bool] = mapped_column(Boolean)
    sex: Mapped[str] = mapped_column(String(6))
    birth_weight_g: Mapped[int | None] = mapped_column(SmallInteger)


class PostpartumVisit(db.Model):
    __tablename__ = "postpartum_visits"
    __table_args__ = (Index("uq_postpartum_visits_kind", "pregnancy_id", "kind", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancies.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    kind: Mapped[str] = mapped_column(String(12))
    visit_on: Mapped[date] = mapped_column(Date)
    days_after_delivery: Mapped[int] = mapped_column(SmallInteger)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    sbp: Mapped[int | None] = mapped_column(SmallInteger)
    dbp: Mapped[int | None] = mapped_column(SmallInteger)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    # findings, each normal | abnormal: 乳房, 恶露, 子宫, 伤口, 一般心理状况
    breasts: Mapped[str | None] = mapped_column(String(10))
    lochia: Mapped[str | None] = mapped_column(String(10))
    uterus: Mapped[str | None] = mapped_column(String(10))
    wound: Mapped[str | None] = mapped_column(String(10))
    mental: Mapped[str | None] = mapped_column(String(10))
    classification: Mapped[str | None] = mapped_column(String(10))  # recovered | abnormal
    guidance: Mapped[list] = mapped_column(JSONType, default=list)
    referred: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
