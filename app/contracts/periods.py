"""A contract's period (one year from signing) and "in force on a day", which other features
read too (follow-ups, surveys' "signed" population)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, or_

from app.contracts.models import Contract


def plus_one_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 Feb
        return date(day.year + 1, 3, 1)


def period_from(starts_on: date) -> tuple[date, date]:
    """One year from the signing day: 2024-03-10 … 2025-03-09."""
    return starts_on, plus_one_year(starts_on) - timedelta(days=1)


def period_end(contract: Contract) -> date:
    """The last day of service: the end of the period, or the day it was terminated."""
    if contract.terminated_on is not None:
        return min(contract.ends_on, contract.terminated_on)
    return contract.ends_on


def in_force_clause(on: date):
    """SQL over ``Contract``: signed and running on ``on`` (terminated on that day or before: not)."""
    return and_(
        Contract.signed_at.is_not(None),
        Contract.starts_on <= on,
        Contract.ends_on >= on,
        or_(Contract.terminated_on.is_(None), Contract.terminated_on > on),
    )
