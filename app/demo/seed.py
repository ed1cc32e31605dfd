"""The demo district: 环翠区 as planned for 2024 (docs/domain.md §7), at any scale.

The seed is a list of named steps (:data:`STEPS`); each step is a function taking the
shared :class:`~app.demo.context.SeedContext`. The population steps live in this package
(``organisation``, ``households``, ``conditions``), each feature's step in its own
``demo`` module; a step reads what earlier steps built from the context (institutions,
teams, staff ids, lightweight resident references) or from the database, and writes
with :meth:`SeedContext.insert`. The rules every step keeps are in ``app.demo.context``.

After the last step each table's sequence is moved past the ids used (PostgreSQL), and
the whole seed commits once: a failed seed leaves the database as it found it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from flask import current_app
from sqlalchemy import func, select, text

from app.accounts.models import Staff
from app.accounts.services import hash_password
from app.appointments.demo import seed_appointments
from app.archive.demo import seed_checks, seed_child_checks
from app.common import time as clock
from app.common.ids import vault
from app.contracts.demo import seed_contracts
from app.demo.conditions import build_conditions
from app.demo.context import BUREAU_NAME, TARGETS_FILE, SeedContext, Step, load_targets, reset_sequence
from app.demo.households import build_residents
from app.demo.organisation import build_admin_accounts, build_organisation, build_teams
from app.extensions import db
from app.followups.demo import seed_checkup_plans, seed_followups
from app.followups.demo_contacts import seed_contacts
from app.indicators.demo import seed_targets
from app.maternal.demo import seed_pregnancies
from app.orgs.models import Institution
from app.referrals.demo import seed_referrals
from app.residents.models import Resident
from app.surveys.demo import seed_surveys

log = logging.getLogger(__name__)


# --- the step list ----------------------------------------------------------

STEPS: list[tuple[str, Step]] = [
    ("organisation", build_organisation),
    ("accounts", build_admin_accounts),
    ("teams", build_teams),
    ("residents", build_residents),
    ("conditions", build_conditions),
    ("followups", seed_followups),
    ("pregnancies", seed_pregnancies),
    ("checks", seed_checks),
    ("child_checks", seed_child_checks),
    ("checkup_plans", seed_checkup_plans),
    ("contacts", seed_contacts),
    ("referrals", seed_referrals),
    ("contracts", seed_contracts),
    ("appointments", seed_appointments),
    ("surveys", seed_surveys),
    ("targets", seed_targets),
]


def register_step(name: str, step: Step, *, after: str | None = None) -> None:
    """Add a step (at the end, or right after the step called ``after``). Idempotent by name."""
    if any(existing == name for existing, _ in STEPS):
        return
    position = len(STEPS)
    if after is not None:
        position = next(i for i, (existing, _) in enumerate(STEPS) if existing == after) + 1
    STEPS.insert(position, (name, step))


# --- running ----------------------------------------------------------------


def database_is_empty() -> tuple[bool, dict[str, int]]:
    counts = {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Institution, Staff, Resident)
    }
    return not any(counts.values()), counts


def reset_sequences(tables) -> None:
    """PostgreSQL: move each serial/identity sequence past the ids the seed chose."""
    for name in tables:
        reset_sequence(name)


def run_seed(
    scale: float = 0.01,
    seed: int = 2024,
    *,
    echo: Callable[[str], None] = print,
    progress: bool = False,
    steps: list[tuple[str, Step]] | None = None,
) -> SeedContext:
    """Build the demo district in one transaction; returns the context for reporting."""
    password = current_app.config["DEMO_PASSWORD"]
    ctx = SeedContext(
        scale=scale,
        seed=seed,
        today=clock.today(),
        now=clock.now(),
        password=password,
        # One scrypt for every account: hashing per account would take minutes.
        password_hash=hash_password(password),
        targets=load_targets(TARGETS_FILE),
        echo=echo,
        progress=progress,
    )
    started = perf_counter()
    try:
        for name, step in STEPS if steps is None else steps:
            step_started = perf_counter()
            step(ctx)
            echo(f"  {name:<14} {perf_counter() - step_started:6.1f} s")
        reset_sequences(ctx.counts)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if db.session.get_bind().dialect.name == "postgresql":
        for name in ctx.counts:
            db.session.execute(text(f'ANALYZE "{name}"'))
        db.session.commit()
    ctx.extras["seconds"] = perf_counter() - started
    log.info("demo district seeded: %s", dict(ctx.counts))
    return ctx


# --- the closing message ----------------------------------------------------


def showcase_residents(ctx: SeedContext, limit: int = 4) -> list[dict]:
    """A few HC01 residents worth binding in the mini-program demo (decrypted: demo only)."""
    if not ctx.centres:
        return []
    centre = ctx.centres[0]
    refs = {ref.id: ref for ref in ctx.residents.get(centre.code, ())}
    today = ctx.today
    child_households = {ref.household_id for ref in refs.values() if ref.birth_on > clock.years_before(today, 7)}
    htn, t2dm = ctx.conditions.get("hypertension", set()), ctx.conditions.get("t2dm", set())
    wanted = [
        (
            "parent of a child 0–6",
            lambda r: r.household_id in child_households and r.married and clock.age_on(r.birth_on, today) >= 22,
        ),
        ("65+ with hypertension", lambda r: r.id in htn and clock.age_on(r.birth_on, today) >= 65),
        ("type-2 diabetes", lambda r: r.id in t2dm),
        ("pregnant", lambda r: r.id in ctx.pregnant),
        ("adult", lambda r: 25 <= clock.age_on(r.birth_on, today) < 60),
    ]
    picked: list[tuple[int, str]] = []
    for label, test in wanted:
        found = next((ref.id for ref in refs.values() if test(ref) and ref.id not in dict(picked)), None)
        if found is not None:
            picked.append((found, label))
        if len(picked) >= limit:
            break
    rows = {
        r.id: r
        for r in db.session.execute(
            select(
                Resident.id, Resident.name, Resident.id_number_enc, Resident.archive_no, Resident.birth_on, Resident.sex
            ).where(Resident.id.in_([i for i, _ in picked]))
        )
    }
    keys = vault()
    shown = []
    for resident_id, label in picked:
        row = rows.get(resident_id)
        if row is None:
            continue
        shown.append(
            dict(
                name=row.name,
                id_number=keys.decrypt(row.id_number_enc),
                archive_no=row.archive_no,
                age=clock.age_on(row.birth_on, today),
                sex=row.sex,
                why=label,
            )
        )
    return shown


def summary_lines(ctx: SeedContext) -> list[str]:
    residents = ctx.counts.get("residents", 0)
    lines = [
        (
            f"Demo district {BUREAU_NAME} seeded (scale {ctx.scale:g}, seed {ctx.seed}) in "
            f"{ctx.extras.get('seconds', 0):.1f} s: {ctx.counts.get('institutions', 0)} institutions, "
            f"{ctx.counts.get('staff', 0)} staff, {ctx.counts.get('teams', 0)} teams, "
            f"{ctx.counts.get('households', 0)} households, {residents} residents, "
            f"{len(ctx.conditions.get('hypertension', ()))} hypertension, {len(ctx.conditions.get('t2dm', ()))} T2DM, "
            f"{len(ctx.pregnant)} pregnant."
        ),
        "",
        "API: http://127.0.0.1:5000/api/v1 (start it with `flask --app wsgi run`; docs at /api/docs)",
        'Staff login: POST /api/v1/auth/staff/login {"username": …, "password": …}',
        f"Password of every demo account (DEMO_PASSWORD): {ctx.password}",
    ]
    first = ctx.centres[0].code.lower() if ctx.centres else "hc01"
    shown = ["admin", f"{first}-admin", f"{first}-doc01", f"{first}-nurse01", f"{first}-ph01"]
    if len(ctx.centres) > 1:
        shown.append(f"{ctx.centres[1].code.lower()}-doc01")
    for username in shown:
        if username in ctx.staff_ids:
            lines.append(f"  {username:<14} {ctx.staff_notes.get(username, '')}")
    lines.append(
        "  (the same pattern for every centre: hc01…hc10 -admin, -docNN, -nurseNN, -phNN, "
        "and -vdNN in township centres)"
    )
    people = showcase_residents(ctx)
    if people:
        lines.append("Residents to bind in the mini-program (name + ID number; made-up demo data):")
        for person in people:
            lines.append(
                f"  {person['name']:<4} {person['id_number']}  archive {person['archive_no']}  "
                f"{person['age']} y, {person['sex']}, {person['why']}"
            )
    lines.extend(ctx.notes)
    return lines
