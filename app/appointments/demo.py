"""Demo step: four weeks of slots for every team (two past, two ahead) and bookings in them.

Each team publishes a weekly timetable (elderly checks Tuesday and Thursday mornings,
chronic follow-ups Monday/Wednesday/Friday mornings, child checks Wednesday afternoon,
prenatal checks Thursday afternoon, consultations every weekday afternoon), public
holidays skipped. Slots are filled from the team's own residents who fit the service on
that day; past appointments were mostly attended (checked in), some missed or cancelled;
one resident per team missed three consultations in a row (flagged on the day view).
Future bookings carry their pending reminders in the outbox, as a real booking would.

Bulk inserts only; ids from ``ctx.allocate_ids``; randomness from ``ctx.rng``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, time, timedelta
from functools import lru_cache

from sqlalchemy import select

from app.appointments import holidays
from app.appointments.models import Appointment, Slot
from app.appointments.reminders import reminder_items
from app.common import time as clock
from app.extensions import db
from app.notify import services as notify
from app.notify.models import Outbox
from app.orgs.models import Institution, Team
from app.residents.models import Resident

PAST_DAYS = 14
AHEAD_DAYS = 13
# service -> (ISO weekdays, start, end, capacity)
TIMETABLE = {
    "elderly_check": ((2, 4), time(8, 0), time(11, 30), 24),
    "chronic_followup": ((1, 3, 5), time(8, 0), time(11, 30), 12),
    "child_check": ((3,), time(14, 0), time(17, 0), 6),
    "prenatal_check": ((4,), time(14, 0), time(17, 0), 4),
    "consultation": ((1, 2, 3, 4, 5), time(14, 0), time(16, 30), 6),
}
# Services a resident books at most once in the four weeks (the rhythm is yearly/quarterly).
ONCE = ("elderly_check", "chronic_followup", "child_check", "prenatal_check")


_years_before = lru_cache(maxsize=None)(clock.years_before)


def _fits(service: str, ref, day: date, chronic: set[int], pregnant: dict[int, date]) -> bool:
    """The seed's mirror of the population rules (populations.py), on the refs in memory."""
    if service == "elderly_check":
        return ref.birth_on <= _years_before(day, 65)
    if service == "child_check":
        return _years_before(day, 7) < ref.birth_on <= day
    if service == "chronic_followup":
        return ref.id in chronic
    if service == "prenatal_check":
        return pregnant.get(ref.id, date.min) >= day
    return True


def _fill(day: date, today: date, rng) -> float:
    if day < today:
        return rng.uniform(0.6, 0.95)
    return max(0.15, 0.85 - 0.05 * (day - today).days) * rng.uniform(0.8, 1.1)


def seed_appointments(ctx) -> None:
    today, now = ctx.today, ctx.now
    days = [today + timedelta(days=offset) for offset in range(-PAST_DAYS, AHEAD_DAYS + 1)]
    open_days = [d for d in days if not holidays.is_public_holiday(d)]
    chronic = set(ctx.conditions.get("hypertension", ())) | set(ctx.conditions.get("t2dm", ()))
    # the day of the window on which most people fit (the last for "65 and over", the first otherwise)
    window = {
        "elderly_check": days[-1],
        "child_check": days[0],
        "chronic_followup": days[0],
        "prenatal_check": days[0],
        "consultation": days[0],
    }
    pregnant = dict(ctx.pregnant)
    slot_rows: list[dict] = []
    appointment_rows: list[dict] = []
    flagged = 0
    for centre in ctx.centres:
        refs_by_team: dict[int, list] = defaultdict(list)
        for ref in ctx.residents.get(centre.code, ()):
            refs_by_team[ref.team_id].append(ref)
        for team_id in centre.team_ids:
            rng = ctx.rng("appointments", centre.code, team_id)
            leader = centre.team_leader.get(team_id)
            team_refs = refs_by_team.get(team_id, [])
            pools = {
                service: [r for r in team_refs if _fits(service, r, window[service], chronic, pregnant)]
                if service != "consultation"
                else [r for r in team_refs if r.birth_on <= days[0]]
                for service in TIMETABLE
            }
            used: dict[str, set[int]] = {service: set() for service in ONCE}
            # one resident per team who missed three consultations in a row (kept out of every
            # other booking, so those three stay the most recent)
            flaky = rng.choice(pools["consultation"]) if pools["consultation"] else None
            flaky_left = 3 if flaky is not None else 0
            if flaky is not None:
                pools = {service: [r for r in pool if r.id != flaky.id] for service, pool in pools.items()}
            for day in open_days:
                for service, (weekdays, start, end, capacity) in TIMETABLE.items():
                    if day.isoweekday() not in weekdays:
                        continue
                    starts_at, ends_at = (
                        clock.at_local(day, start.hour, start.minute),
                        clock.at_local(day, end.hour, end.minute),
                    )
                    slot_id = ctx.new_id(Slot)
                    if service == "consultation":
                        candidates = pools[service]
                    else:
                        candidates = [
                            r
                            for r in pools[service]
                            if r.id not in used[service] and _fits(service, r, day, chronic, pregnant)
                        ]
                    wanted = min(len(candidates), round(capacity * min(_fill(day, today, rng), 1.0)))
                    chosen = rng.sample(candidates, wanted) if wanted else []
                    forced = []
                    if (
                        service == "consultation"
                        and flaky_left
                        and ends_at < now
                        and len(chosen) < capacity
                        and day >= today - timedelta(days=PAST_DAYS - 7)
                    ):
                        forced = [flaky]
                        flaky_left -= 1
                        if flaky_left == 0:
                            flagged += 1
                    places = 0
                    for index, ref in enumerate(chosen + forced):
                        if service in used:
                            used[service].add(ref.id)
                        status = "no_show" if index >= len(chosen) else _status(rng, ends_at, now)
                        row = _appointment(
                            ctx, rng, slot_id, team_id, service, ref.id, leader, starts_at, ends_at, day, status, now
                        )
                        appointment_rows.append(row)
                        if status != "cancelled":
                            places += 1
                    slot_rows.append(
                        dict(
                            id=slot_id,
                            team_id=team_id,
                            service=service,
                            starts_at=starts_at,
                            ends_at=ends_at,
                            starts_on=day,
                            capacity=capacity,
                            booked=places,
                            status="open",
                            created_by_id=leader,
                            created_at=now - timedelta(days=PAST_DAYS + 7),
                        )
                    )
    ctx.insert(Slot, slot_rows)
    by_keys: dict[tuple, list[dict]] = defaultdict(list)
    for row in appointment_rows:  # one executemany per column set: no NULLs bound for nothing
        by_keys[tuple(row)].append(row)
    for rows in by_keys.values():
        ctx.insert(Appointment, rows)
    reminders = _reminders(appointment_rows, now)
    # What notify.enqueue_many would write, inserted in bulk: the row format is notify's own
    # (``_row``), but enqueue_many's multi-row INSERT … RETURNING costs ~0.7 ms a row, which
    # at full scale (~90,000 reminders) would take a minute by itself.
    ctx.insert(Outbox, [notify._row(*item) for item in reminders])
    upcoming = sum(1 for row in appointment_rows if row["status"] == "booked")
    ctx.notes.append(
        f"Appointments: {len(slot_rows)} slots over {PAST_DAYS + AHEAD_DAYS + 1} days, {len(appointment_rows)} "
        f"bookings ({upcoming} upcoming with {len(reminders)} pending reminders), {flagged} residents flagged for "
        f"three no-shows in a row. Team day view: GET /api/v1/teams/{{team_id}}/day?date={today.isoformat()}"
    )


def _status(rng, ends_at, now) -> str:
    draw = rng.random()
    if ends_at < now:  # concluded: most came
        return "checked_in" if draw < 0.85 else "no_show" if draw < 0.93 else "cancelled"
    return "booked" if draw < 0.95 else "cancelled"


def _appointment(ctx, rng, slot_id, team_id, service, resident_id, leader, starts_at, ends_at, day, status, now):
    booked_at = min(now, starts_at) - timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
    row = dict(
        id=ctx.new_id(Appointment),
        slot_id=slot_id,
        resident_id=resident_id,
        team_id=team_id,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        scheduled_on=day,
        status=status,
        booked_by_kind="staff",
        booked_by_id=leader or 0,
        contact_resident_id=resident_id,
        booked_at=booked_at,
        updated_at=booked_at,
    )
    if status == "cancelled":
        cancelled_at = booked_at + (min(now, starts_at) - booked_at) / 2
        row.update(
            cancelled_at=cancelled_at, cancelled_by_kind="resident", cancel_reason="resident", updated_at=cancelled_at
        )
    elif status == "checked_in":
        checked_in_at = starts_at + timedelta(minutes=rng.randint(0, 90))
        row.update(checked_in_at=checked_in_at, checked_in_by_id=leader, updated_at=checked_in_at)
    elif status == "no_show":
        row.update(no_show_at=ends_at, no_show_by_id=leader, updated_at=ends_at)
    return row


def _reminders(rows: list[dict], now) -> list[tuple]:
    """The outbox rows a real booking would have left pending (``reminders.reminder_items``)."""
    future = [row for row in rows if row["status"] == "booked"]
    if not future:
        return []
    team_ids = {row["team_id"] for row in future}
    places = {
        r.id: f"{r.institution}{r.name}"
        for r in db.session.execute(
            select(Team.id, Team.name, Institution.name.label("institution"))
            .join(Institution, Institution.id == Team.institution_id)
            .where(Team.id.in_(team_ids))
        )
    }
    ids = sorted({row["resident_id"] for row in future})
    names: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        names.update(
            db.session.execute(
                select(Resident.id, Resident.name).where(Resident.id.in_(ids[start : start + 5000]))
            ).all()
        )
    items = []
    for row in future:
        items.extend(
            reminder_items(
                appointment_id=row["id"],
                service=row["service"],
                starts_at=row["starts_at"],
                scheduled_on=row["scheduled_on"],
                contact_resident_id=row["contact_resident_id"],
                person=names.get(row["resident_id"], ""),
                place=places[row["team_id"]],
                at=now,
            )
        )
    return items
