"""Time: store UTC, reason in the district's local time.

``now()`` is the one clock the application reads. Tests and ``scheduler run-once
--at`` move it with :func:`frozen`; nothing else in the code calls
``datetime.now()`` so that "today" means the same thing everywhere.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

UTC = UTC
_frozen: datetime | None = None


def local_tz() -> ZoneInfo:
    name = current_app.config.get("TZ_NAME", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def local_now() -> datetime:
    return now().astimezone(local_tz())


def today() -> date:
    """Today's date in the district's time zone."""
    return local_now().date()


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant at which ``day`` starts locally."""
    return datetime.combine(day, time.min, tzinfo=local_tz()).astimezone(UTC)


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=local_tz()).astimezone(UTC)


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: instants must carry an offset")
    return value.astimezone(UTC)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 Feb falls back to 28 Feb)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(birth_on: date, day: date) -> int:
    return day.year - birth_on.year - ((day.month, day.day) < (birth_on.month, birth_on.day))


@contextlib.contextmanager
def frozen(instant: datetime):
    """Run a block as if the clock read ``instant`` (aware)."""
    global _frozen
    previous = _frozen
    _frozen = ensure_utc(instant)
    try:
        yield
    finally:
        _frozen = previous


def freeze(instant: datetime | None) -> None:
    """Set (or with ``None`` clear) the frozen clock; for tests and run-once."""
    global _frozen
    _frozen = ensure_utc(instant) if instant is not None else None


__all__ = [
    "UTC",
    "now",
    "local_now",
    "today",
    "frozen",
    "freeze",
    "local_tz",
    "at_local",
    "local_midnight_utc",
    "ensure_utc",
    "years_before",
    "age_on",
    "timedelta",
]
