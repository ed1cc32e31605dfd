"""Nightly: the indicators at every closed month end of the last 13 months, stored per institution
and per team (:class:`app.indicators.models.IndicatorSnapshot`), so the month-by-month trend reads
them instead of recomputing a year of month ends on every request (live, each month end costs as
much as the current day). Recomputed every night: late entries for a past month reach the trend
the next morning. One count per month end (every indicator, grouped by institution and team);
only changed counts are written, so a second run writes nothing.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import delete, select

from app.common.time import now, today
from app.extensions import db
from app.indicators.catalogue import DEFINITIONS
from app.indicators.engine import Context, Grouping, count
from app.indicators.models import IndicatorSnapshot

MONTHS_BACK = 13


def closed_month_ends(day: date, months: int = MONTHS_BACK) -> list[date]:
    """The last ``months`` month ends before ``day`` (oldest first)."""
    ends, year, month = [], day.year, day.month
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        ends.append(date(year, month, calendar.monthrange(year, month)[1]))
    return sorted(ends)


def snapshot_month_ends() -> dict:
    written = unchanged = 0
    days = closed_month_ends(today())
    for day in days:
        w, u = snapshot_day(day)
        written, unchanged = written + w, unchanged + u
        db.session.commit()
    return {"days": len(days), "written": written, "unchanged": unchanged}


def snapshot_day(day: date) -> tuple[int, int]:
    """Count every indicator on ``day`` per (institution, team) and store the sums per institution
    and per team; returns (rows written, rows unchanged)."""
    ctx = Context(day.year, day)
    specs = [(ctx, d) for d in DEFINITIONS]
    found = count(Grouping(pairs=True), specs)
    wanted: dict[tuple[str, int, str], tuple[int, int]] = {}
    for (institution_id, team_id), values in found.items():
        for index, (_, definition) in enumerate(specs):
            base, numerator = values.get(index, (0, 0))
            for scope, scope_id in (("institution", institution_id), ("team", team_id)):
                if scope_id is None:
                    continue
                key = (scope, scope_id, definition.key)
                old = wanted.get(key, (0, 0))
                wanted[key] = (old[0] + base, old[1] + numerator)
    existing = {
        (s.scope, s.scope_id, s.indicator): s
        for s in db.session.scalars(select(IndicatorSnapshot).where(IndicatorSnapshot.on == day))
    }
    written = unchanged = 0
    stamp = now()
    new_rows = []
    for key, (base, numerator) in wanted.items():
        row = existing.pop(key, None)
        if row is None:
            new_rows.append(
                dict(
                    scope=key[0],
                    scope_id=key[1],
                    on=day,
                    indicator=key[2],
                    base=base,
                    numerator=numerator,
                    computed_at=stamp,
                )
            )
            written += 1
        elif (row.base, row.numerator) != (base, numerator):
            row.base, row.numerator, row.computed_at = base, numerator, stamp
            written += 1
        else:
            unchanged += 1
    if new_rows:
        db.session.execute(IndicatorSnapshot.__table__.insert(), new_rows)
    if existing:  # groups that no longer have residents
        db.session.execute(delete(IndicatorSnapshot).where(IndicatorSnapshot.id.in_([r.id for r in existing.values()])))
        written += len(existing)
    db.session.flush()
    return written, unchanged
