"""Periodic work of appointments: the team's list for the next day, in each member's inbox.

Residents' reminders need no job: they are enqueued at booking time with their due time
(``not_before``) and withdrawn when the appointment is cancelled or moved.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select

from app.accounts.models import Staff
from app.appointments.models import Appointment, service_name
from app.appointments.no_shows import no_show_flags
from app.appointments.notifications import DAY_LIST
from app.appointments.reminders import local_text
from app.common.time import today as local_today
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import Team, TeamMember
from app.residents.models import Resident

log = logging.getLogger(__name__)

LISTED_NAMES = 60  # longer lists end with "… and N more" (the day view has everyone)


def send_day_lists(today: date | None = None) -> dict:
    """Each active member of a team with appointments tomorrow gets tomorrow's list (inbox).

    One query for the appointments, one for the members, one bulk insert into the outbox;
    dedup keys per team, day and staff member make a second run a no-op. One batch: the
    runner (``app.scheduler.runner.run_job``) commits it.
    """
    day = (today or local_today()) + timedelta(days=1)
    rows = db.session.execute(
        select(
            Appointment.team_id,
            Appointment.resident_id,
            Appointment.service,
            Appointment.starts_at,
            Resident.name,
            Team.name.label("team_name"),
        )
        .join(Resident, Resident.id == Appointment.resident_id)
        .join(Team, Team.id == Appointment.team_id)
        .where(Appointment.scheduled_on == day, Appointment.status == "booked", Team.active)
        .order_by(Appointment.team_id, Appointment.starts_at, Appointment.id)
    ).all()
    by_team: dict[int, list] = defaultdict(list)
    for row in rows:
        by_team[row.team_id].append(row)
    members = (
        db.session.execute(
            select(TeamMember.team_id, TeamMember.staff_id)
            .join(Staff, Staff.id == TeamMember.staff_id)
            .where(TeamMember.team_id.in_(list(by_team)), Staff.active)
        ).all()
        if by_team
        else []
    )
    flags = no_show_flags({row.resident_id for row in rows})
    bodies = {team_id: _body(entries, flags) for team_id, entries in by_team.items()}
    items = []
    for member in members:
        entries = by_team[member.team_id]
        items.append(
            (
                notify.staff(member.staff_id),
                DAY_LIST,
                f"appointment-day-list:{member.team_id}:{day.isoformat()}:{member.staff_id}",
                {
                    "title": f"{entries[0].team_name} 明日预约 {len(entries)} 人",
                    "day": day.isoformat(),
                    "team_id": member.team_id,
                    "count": len(entries),
                    "body": bodies[member.team_id],
                },
                None,
            )
        )
    added = notify.enqueue_many(items)
    counts = {"day": day.isoformat(), "teams": len(by_team), "appointments": len(rows), "enqueued": added}
    log.info("appointment day lists: %s", counts)
    return counts


def _body(entries: list, flags: set[int]) -> str:
    lines = []
    for row in entries[:LISTED_NAMES]:
        mark = "（连续爽约）" if row.resident_id in flags else ""
        lines.append(f"{local_text(row.starts_at)[-5:]} {service_name(row.service)} {row.name}{mark}")
    if len(entries) > LISTED_NAMES:
        lines.append(f"……另有 {len(entries) - LISTED_NAMES} 人，详见当日预约视图")
    return "\n".join(lines)
