"""The archive beyond the basic sheet: health checks (健康体检表) and other medical service records.

The basic sheet and the chronic-condition registry (``Condition``) belong to ``app.residents``;
follow-up visits belong to their own feature and reach the archive through hooks
(``app.archive.view.ARCHIVE_SECTIONS``, ``app.archive.metrics.ACTIVITY_SOURCES``).

Measurements that are compared, exported or counted (blood pressure, weight, BMI, fasting
glucose…) are columns; the long tail of the national form (lifestyle, elderly self-care and
cognitive screening, other labs, organ function…) is validated JSON.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

# 其他医疗卫生服务记录: consultations, referrals, home visits, TCM services.
SERVICE_KINDS = ("consultation", "referral", "home_visit", "tcm", "other")


class _Vitals:
    """Signs measured at a visit (both forms carry them)."""

    sbp: Mapped[int | None] = mapped_column(SmallInteger)  # mmHg
    dbp: Mapped[int | None] = mapped_column(SmallInteger)
    heart_rate: Mapped[int | None] = mapped_column(SmallInteger)  # /min
    weight_kg: Mapped[float | None] = mapped_column(Float)
    fasting_glucose: Mapped[float | None] = mapped_column(Float)  # mmol/L


class HealthCheck(_Vitals, db.Model):
    """One 健康体检表."""

    __tablename__ = "health_checks"
    __table_args__ = (
        Index("ix_health_checks_resident_on", "resident_id", "checked_on"),
        Index("ix_health_checks_checked_on", "checked_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    checked_on: Mapped[date] = mapped_column(Date)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    # 一般状况
    temperature: Mapped[float | None] = mapped_column(Float)  # °C
    respiration: Mapped[int | None] = mapped_column(SmallInteger)  # /min
    height_cm: Mapped[float | None] = mapped_column(Float)
    waist_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)  # computed from height and weight, never typed in

    symptoms: Mapped[list] = mapped_column(JSONType, default=list)
    lifestyle: Mapped[dict] = mapped_column(JSONType, default=dict)
    # 老年人: 生活自理能力评估, 健康状态自我评估, 认知功能 / 情感状态粗筛 (65+ only)
    elderly: Mapped[dict | None] = mapped_column(JSONType)
    organ_function: Mapped[dict] = mapped_column(JSONType, default=dict)
    physical_exam: Mapped[dict] = mapped_column(JSONType, default=dict)
    labs: Mapped[dict] = mapped_column(JSONType, default=dict)  # 辅助检查 other than fasting glucose
    main_findings: Mapped[list] = mapped_column(JSONType, default=list)  # 现存主要健康问题
    medications: Mapped[list] = mapped_column(JSONType, default=list)
    assessment: Mapped[str | None] = mapped_column(String(10))  # normal | abnormal (健康评价)
    abnormalities: Mapped[list] = mapped_column(JSONType, default=list)
    guidance: Mapped[list] = mapped_column(JSONType, default=list)  # 健康指导
    risk_factor_guidance: Mapped[list] = mapped_column(JSONType, default=list)  # 危险因素控制
    note: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ServiceRecord(_Vitals, db.Model):
    """One other medical service (接诊, 转诊, 上门访视, 中医药服务…)."""

    __tablename__ = "service_records"
    __table_args__ = (
        Index("ix_service_records_resident_on", "resident_id", "served_on"),
        Index("ix_service_records_served_on", "served_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    kind: Mapped[str] = mapped_column(String(20))
    served_on: Mapped[date] = mapped_column(Date)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    # kind-specific parts: {"referral": {...}} or {"tcm": {...}}
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ChildCheck(db.Model):
    """One child health check of 0–6 years (新生儿家庭访视记录表 / 儿童健康检查记录表); ``kind`` says
    which of the schedule (``app.archive.child_schedule``), derived from the age when not given."""

    __tablename__ = "child_checks"
    __table_args__ = (
        # one check of each kind per child (a second is a 409, not a duplicate row)
        Index("uq_child_checks_resident_kind", "resident_id", "kind", unique=True),
        Index("ix_child_checks_checked_on", "checked_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    kind: Mapped[str] = mapped_column(String(20))
    checked_on: Mapped[date] = mapped_column(Date)
    age_days: Mapped[int] = mapped_column(SmallInteger)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)  # length lying down under 2 years
    head_circumference_cm: Mapped[float | None] = mapped_column(Float)
    hemoglobin: Mapped[float | None] = mapped_column(Float)  # g/L
    development: Mapped[str | None] = mapped_column(String(10))  # normal | suspected | abnormal
    # 眼保健和视力检查: done at this check (what the coverage indicator counts), and its findings
    eye_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    eye: Mapped[dict | None] = mapped_column(JSONType)
    # 中医药健康管理: the guidance given (6–36 months), empty when none
    tcm_guidance: Mapped[list] = mapped_column(JSONType, default=list)
    guidance: Mapped[list] = mapped_column(JSONType, default=list)  # 指导: feeding, development, …
    note: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
