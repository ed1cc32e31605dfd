"""Indicator targets (任务指标): per institution, year and indicator, a target rate and/or count.

Loaded from the district's table (附件2, docs/domain.md §7; ``flask targets import FILE``) and
edited by the district admin (``PUT /api/v1/indicators/targets``). A rate (0–1) is the bar an indicator's rate
must reach; a count is the table's task number (目标数): for most indicators ``rate × base``, for
the chronic-disease "managed" indicators the number of patients to manage (应管人数), which is
then the indicator's denominator. Keys are :data:`app.indicators.catalogue.TARGET_KEYS`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.extensions import db
from app.indicators import changes


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


class IndicatorChange(db.Model):
    """A resident whose indicator facts may have moved since the last :class:`FactBuild`: written by
    database triggers on every table the indicators read (``app.indicators.changes``), so no write
    path — the API, a set-based job, an import's COPY — can forget it. ``resident_id`` NULL: a change
    that may move anyone (a survey's settings). Deleted by the build that absorbs it."""

    __tablename__ = "indicator_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(BigInteger)


class FactBuild(db.Model):
    """One evaluation of every indicator, per resident, on ``as_of`` (``app.indicators.facts``):
    ``layout`` lists its specs ("key@day") in bit order. Only the latest build is kept."""

    __tablename__ = "indicator_fact_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    layout: Mapped[list] = mapped_column(JSON)
    residents: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ResidentFacts(db.Model):
    """A resident's flags in a build: bit k of ``base_bits`` is "in spec k's base", of ``num_bits``
    "in its base and numerator"; with the resident's institution and team at the time."""

    __tablename__ = "indicator_resident_facts"

    build_id: Mapped[int] = mapped_column(ForeignKey("indicator_fact_builds.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_id: Mapped[int]
    team_id: Mapped[int | None]
    base_bits: Mapped[int] = mapped_column(BigInteger)
    num_bits: Mapped[int] = mapped_column(BigInteger)


class FactSum(db.Model):
    """A build's two counts per (institution, team) and spec: the sums of its residents' flags."""

    __tablename__ = "indicator_fact_sums"
    __table_args__ = (Index("ix_indicator_fact_sums_build", "build_id", "spec"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("indicator_fact_builds.id", ondelete="CASCADE"))
    institution_id: Mapped[int]
    team_id: Mapped[int | None]
    spec: Mapped[int]
    base: Mapped[int]
    numerator: Mapped[int]


changes.install(db.metadata)
