"""Repeated no-shows: residents whose three most recent concluded appointments were all missed.

The flag shows on the team's day view, on appointment answers and in the day list; the
team's no-show list names those who booked with it.
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from app.appointments.models import CONCLUDED_STATUSES, Appointment
from app.common.time import age_on, today
from app.extensions import db
from app.orgs.models import Team
from app.residents.models import Resident

NO_SHOW_STREAK = 3


def _streak_query(resident_ids):
    ranked = (
        select(
            Appointment.resident_id,
            Appointment.status,
            Appointment.starts_at,
            func.row_number()
            .over(partition_by=Appointment.resident_id, order_by=(Appointment.starts_at.desc(), Appointment.id.desc()))
            .label("rn"),
        )
        .where(Appointment.status.in_(CONCLUDED_STATUSES), Appointment.resident_id.in_(resident_ids))
        .subquery()
    )
    return (
        select(ranked.c.resident_id, func.max(ranked.c.starts_at).label("last_at"))
        .where(ranked.c.rn <= NO_SHOW_STREAK)
        .group_by(ranked.c.resident_id)
        .having(
            func.count() == NO_SHOW_STREAK, func.sum(case((ranked.c.status == "no_show", 1), else_=0)) == NO_SHOW_STREAK
        )
    )


def no_show_flags(resident_ids) -> set[int]:
    """Residents whose three most recent concluded appointments were all no-shows (one query)."""
    if isinstance(resident_ids, (list, set, tuple)):
        resident_ids = list(resident_ids)
        if not resident_ids:
            return set()
    return {row.resident_id for row in db.session.execute(_streak_query(resident_ids))}


def flagged_for_team(team: Team) -> list[dict]:
    """Residents who booked with this team and are flagged for repeated no-shows."""
    booked_here = select(Appointment.resident_id).where(Appointment.team_id == team.id).distinct()
    streaks = _streak_query(booked_here).subquery()
    rows = db.session.execute(
        select(Resident.id, Resident.name, Resident.sex, Resident.birth_on, streaks.c.last_at)
        .join(streaks, streaks.c.resident_id == Resident.id)
        .order_by(streaks.c.last_at.desc(), Resident.id)
    ).all()
    day = today()
    return [
        {
            "resident_id": r.id,
            "name": r.name,
            "sex": r.sex,
            "age": age_on(r.birth_on, day),
            "last_no_show_at": r.last_at,
        }
        for r in rows
    ]
