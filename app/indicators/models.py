"""Indicator targets (任务指标): per institution, year and indicator, a target rate and/or count.

Loaded from the district's table (附件2, docs/domain.md §7; ``flask targets import FILE``) and
edited by the district admin (``PUT /api/v1/indicators/targets``). A rate (0–1) is the bar an indicator's rate
must reach; a count is the table's task number (目标数): for most indicators ``rate × base``, for
the chronic-disease "managed" indicators the number of patients to manage (应管人数), which is
then the indicator's denominator. Keys are :data:`app.indicators.catalogue.TARGET_KEYS`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import UTCDateTime
from app.extensions import db


class IndicatorTarget(db.Model):
    __tablename__ = "indicator_targets"
    __table_args__ = (
        UniqueConstraint("institution_id", "year", "indicator", name="uq_indicator_targets_institution_year"),
        CheckConstraint("target_rate IS NULL OR (target_rate >= 0 AND target_rate <= 1)", name="rate_is_fraction"),
        CheckConstraint("target_count IS NULL OR target_count >= 0", name="count_not_negative"),
        Index("ix_indicator_targets_year", "year", "indicator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    year: Mapped[int]
    indicator: Mapped[str] = mapped_column(String(60))
    target_rate: Mapped[float | None] = mapped_column(Float)
    target_count: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(20), default="api")  # import | api
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class IndicatorSnapshot(db.Model):
    """An indicator's two counts at a past month end, per institution (its directly registered
    residents) or per team — written nightly by ``jobs.snapshot_month_ends`` so the month-by-month
    trend reads closed months instead of recomputing them. The same counts the live computation
    gives that day (a subtree sums its institutions); the evaluation day ``on`` is the month end."""

    __tablename__ = "indicator_snapshots"
    __table_args__ = (
        UniqueConstraint("scope", "scope_id", "on", "indicator", name="uq_indicator_snapshots_point"),
        Index("ix_indicator_snapshots_on", "scope", "on", "indicator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(12))  # institution | team
    scope_id: Mapped[int]
    on: Mapped[date] = mapped_column(Date)
    indicator: Mapped[str] = mapped_column(String(60))
    base: Mapped[int]
    numerator: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
