"""Public holidays for slot patterns.

``chinese-calendar`` knows the State Council's yearly arrangement (法定节假日 and the
weekdays given off around them) for the years it ships data for; for any other year
we fall back to weekends, so a pattern reaching past the library's horizon still
skips the days most likely to be closed. Adjusted working days (调休上班, a Saturday
that is a working day) are not holidays.
"""

from __future__ import annotations

from datetime import date

import chinese_calendar

WEEKEND = "weekend"


def holiday_name(day: date) -> str | None:
    """The holiday ``day`` belongs to ("National Day", …, or "weekend" in uncovered years), else None."""
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year the library has no data for
        return WEEKEND if day.weekday() >= 5 else None
    return name if is_holiday and name else None


def is_public_holiday(day: date) -> bool:
    return holiday_name(day) is not None
