"""Demo step: the district's service packages and a realistic signing picture.

``seed_contracts(ctx)`` (a step of ``app.demo.seed``) writes:
- the district catalogue: a basic package (30-yuan public-health share) and one
  personalised package per key population, offered by the bureau (so everywhere);
- current contracts for a share of residents a little below the 2024 targets
  (elderly ≈ 86 %, chronic ≈ 76 %, children ≈ 75 %, disabled ≈ 67 %, poverty-alleviated
  ≈ 97 % …; overall ≈ last year + 2 pp), periods spread over the past year so that some
  end within 30 days; most of them continue a previous period (renewal ≈ 77 %), some of
  the soon-ending ones are already renewed (``scheduled``) or asked for (``renewal_pending``);
  about a third of households sign as a family;
- last year's contracts that were not renewed (expired), a few voluntary terminations,
  and some pending applications for the teams' worklists;
- entitlements (items) and their deliveries, delivered in proportion to the time elapsed.

Decisions are made in Python over ``ctx.residents`` with ``ctx.rng`` (deterministic);
rows go in with bulk inserts; items and deliveries are ``INSERT … SELECT`` statements on
the server, so 478,600 residents take seconds, not minutes.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, case, cast, func, insert, literal, or_, select, type_coerce, union_all
from sqlalchemy.schema import AddConstraint, DropConstraint

from app.common.time import age_on, at_local, years_before
from app.contracts.models import (
    Contract,
    ContractDelivery,
    ContractItem,
    ContractPackage,
    FamilyGroup,
    PackageInstitution,
    PackageItem,
    ServicePackage,
)
from app.contracts.periods import plus_one_year
from app.extensions import db
from app.residents.models import Resident

# code, name, kind, populations, price, subsidy, items [(name, service_type, times)]
CATALOGUE = (
    (
        "HC-BASIC",
        "家庭医生基础服务包",
        "basic",
        (),
        "0",
        "30",
        (
            ("年度健康评估", "health_check", 1),
            ("健康咨询与指导", "consultation", 4),
            ("健康教育", "health_education", 2),
        ),
    ),
    (
        "HC-ELDER",
        "老年人健康管理服务包",
        "personalized",
        ("elderly",),
        "60",
        "0",
        (
            ("中医体质辨识", "tcm_guidance", 1),
            ("认知功能筛查", "cognitive_screening", 1),
            ("上门随访", "home_visit", 2),
        ),
    ),
    (
        "HC-HTN",
        "高血压患者服务包",
        "personalized",
        ("hypertension",),
        "80",
        "0",
        (
            ("高血压面对面随访", "chronic_followup", 4),
            ("血脂及肾功能检测", "lab_test", 1),
            ("用药指导", "medication_guidance", 2),
        ),
    ),
    (
        "HC-T2DM",
        "2型糖尿病患者服务包",
        "personalized",
        ("t2dm",),
        "90",
        "0",
        (
            ("糖尿病面对面随访", "chronic_followup", 4),
            ("空腹血糖检测", "lab_test", 4),
            ("用药指导", "medication_guidance", 2),
        ),
    ),
    (
        "HC-CHILD",
        "0-6岁儿童健康服务包",
        "personalized",
        ("children_0_6",),
        "40",
        "0",
        (("儿童健康检查", "child_health_check", 2), ("中医药调养指导", "tcm_guidance", 2)),
    ),
    (
        "HC-PREG",
        "孕产妇健康服务包",
        "personalized",
        ("pregnant",),
        "50",
        "0",
        (("产前检查", "prenatal_check", 5), ("产后访视", "postpartum_visit", 1)),
    ),
    (
        "HC-DISABLED",
        "残疾人健康服务包",
        "personalized",
        ("disabled",),
        "0",
        "0",
        (("康复指导", "rehabilitation", 4), ("上门服务", "home_visit", 2)),
    ),
    (
        "HC-POOR",
        "脱贫人口健康服务包",
        "personalized",
        ("poverty_alleviated",),
        "0",
        "0",
        (("上门随访", "home_visit", 4), ("健康咨询", "consultation", 4)),
    ),
    (
        "HC-SPECIAL",
        "计生特殊家庭服务包",
        "personalized",
        ("special_family",),
        "0",
        "0",
        (("上门关怀服务", "home_visit", 4), ("心理疏导与咨询", "consultation", 4)),
    ),
)
MAX_TIMES = 12  # no seeded item is due more often than this a year

# Chance of holding a contract now, by the "strongest" population (a little below target).
# (Elderly patients count at the elderly rate, which lifts the chronic and disabled rates.)
SIGN_RATE = {
    "poverty_alleviated": 0.97,
    "special_family": 0.96,
    "elderly": 0.86,
    "pregnant": 0.82,
    "t2dm": 0.70,
    "hypertension": 0.69,
    "children_0_6": 0.75,
    "disabled": 0.55,
}
GENERAL_RATE = 0.34
RENEWED_SHARE = 0.74  # current contracts that continue last year's
LAPSED_SHARE = 0.195  # of the unsigned: last year's contract ended and was not renewed
TERMINATED_SHARE = 0.01  # of the unsigned: ended early this year (voluntary)
PENDING_SHARE = 0.006  # of the unsigned: an application waiting for the team
FAMILY_SHARE = 0.33  # households whose signing members sign together
EARLY_RENEWAL_SHARE = 0.3  # of contracts ending within 30 days: already renewed (scheduled)
ASKED_RENEWAL_SHARE = 0.1  # … or the resident asked (renewal_pending)


def _populations(ref, today: date, conditions: dict, pregnant: dict, flags: dict) -> list[str]:
    age = age_on(ref.birth_on, today)
    found = []
    if age >= 65:
        found.append("elderly")
    if age <= 6:
        found.append("children_0_6")
    for disease in ("hypertension", "t2dm"):
        if ref.id in conditions.get(disease, ()):
            found.append(disease)
    if pregnant.get(ref.id) and pregnant[ref.id] >= today:
        found.append("pregnant")
    found.extend(flags.get(ref.id, ()))
    return found


def _build_catalogue(ctx) -> tuple[dict, dict]:
    """Insert the packages; returns {code: row}, {population: row} (rows carry items)."""
    package_ids = iter(ctx.allocate_ids(ServicePackage, len(CATALOGUE)))
    item_ids = iter(ctx.allocate_ids(PackageItem, sum(len(c[6]) for c in CATALOGUE)))
    packages, items, offered = [], [], []
    valid_from = date(ctx.today.year - 2, 1, 1)
    for code, name, kind, populations, price, subsidy, package_items in CATALOGUE:
        package_id = next(package_ids)
        row = dict(
            id=package_id,
            code=code,
            version=1,
            name=name,
            kind=kind,
            populations=list(populations),
            price=Decimal(price),
            public_health_subsidy=Decimal(subsidy),
            valid_from=valid_from,
            valid_until=None,
            description=None,
            status="active",
            owner_institution_id=ctx.bureau.id,
            previous_version_id=None,
            created_by_id=ctx.staff_ids.get("admin"),
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        packages.append(row)
        for position, (item_name, service_type, times) in enumerate(package_items):
            item = dict(
                id=next(item_ids),
                package_id=package_id,
                position=position,
                name=item_name,
                service_type=service_type,
                times_per_year=times,
            )
            items.append(item)
        offered.append(dict(package_id=package_id, institution_id=ctx.bureau.id))
    ctx.insert(ServicePackage, packages)
    ctx.insert(PackageItem, items)
    # Not through ctx.insert: this table has no id sequence for the seed to move on.
    db.session.execute(insert(PackageInstitution.__table__), offered)
    by_code = {p["code"]: p for p in packages}
    by_population = {p["populations"][0]: p for p in packages if p["kind"] == "personalized"}
    return by_code, by_population


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, hour, minute)


BULK_TABLES = (Contract, ContractPackage, ContractItem, ContractDelivery)


@contextmanager
def _foreign_keys_checked_once(models):
    """PostgreSQL: drop the tables' foreign keys for the load and add them back after it.

    Row-by-row FK checks are most of the cost of loading millions of rows; adding a
    constraint back validates the whole table in one query (PostgreSQL manual,
    "Populating a Database"). Same constraint names as the models and migrations; all
    inside the seed's transaction, so a failure leaves nothing half done. SQLite does
    not enforce foreign keys unless asked, so nothing to do there.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        yield
        return
    constraints = [
        fk for model in models for fk in sorted(model.__table__.foreign_key_constraints, key=lambda c: c.name)
    ]
    for fk in constraints:
        db.session.execute(DropConstraint(fk))
    yield
    for fk in constraints:
        db.session.execute(AddConstraint(fk))


def seed_contracts(ctx) -> None:
    with _foreign_keys_checked_once(BULK_TABLES):
        _seed_contracts(ctx)


def _insert(ctx, model, rows: list[dict]) -> None:
    """Bulk load: ``COPY … FROM STDIN`` on PostgreSQL (inside the seed's transaction), else ``ctx.insert``."""
    if not rows:
        return
    table = model.__table__
    if db.session.get_bind().dialect.name != "postgresql":
        ctx.insert(model, rows)
        return
    columns = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    ctx.counts[table.name] += len(rows)


def _seed_contracts(ctx) -> None:
    today = ctx.today
    by_code, by_population = _build_catalogue(ctx)
    basic = by_code["HC-BASIC"]
    flags: dict[int, list[str]] = {}
    for rid, disabled, poor, special in db.session.execute(
        select(Resident.id, Resident.disabled_certified, Resident.poverty_alleviated, Resident.special_family).where(
            or_(
                Resident.disabled_certified.is_(True),
                Resident.poverty_alleviated.is_(True),
                Resident.special_family.is_(True),
            )
        )
    ):
        flags[rid] = [
            name
            for name, on in (("disabled", disabled), ("poverty_alleviated", poor), ("special_family", special))
            if on
        ]
    leaders = {team_id: staff_id for centre in ctx.centres for team_id, staff_id in centre.team_leader.items()}

    plans = []  # one dict per contract to write, in order
    for centre in ctx.centres:
        rng = ctx.rng("contracts", centre.code)
        refs = ctx.residents.get(centre.code, ())
        households: dict[int, list] = {}
        for ref in refs:
            households.setdefault(ref.household_id, []).append(ref)
        for household_id, members in households.items():
            family = len(members) > 1 and rng.random() < FAMILY_SHARE
            adults = [m for m in members if age_on(m.birth_on, today) >= 18]
            current = []
            for ref in members:
                pops = _populations(ref, today, ctx.conditions, ctx.pregnant, flags)
                rate = max((SIGN_RATE[p] for p in pops), default=GENERAL_RATE)
                guardian = None
                if age_on(ref.birth_on, today) < 14:
                    guardian = adults[0].id if adults else None
                    if guardian is None:
                        continue  # nobody to sign for the child
                packages = [basic] + [by_population[p] for p in pops if p in by_population]
                base = dict(ref=ref, packages=packages, guardian=guardian, leader=leaders.get(ref.team_id))
                if rng.random() < rate:
                    starts = today - timedelta(days=rng.randrange(365))
                    plan = dict(base, kind="current", starts=starts, renewed=rng.random() < RENEWED_SHARE)
                    ends = plus_one_year(starts) - timedelta(days=1)
                    if (ends - today).days <= 30:
                        draw = rng.random()
                        plan["next"] = (
                            "scheduled"
                            if draw < EARLY_RENEWAL_SHARE
                            else "renewal_pending"
                            if draw < EARLY_RENEWAL_SHARE + ASKED_RENEWAL_SHARE
                            else None
                        )
                    current.append(plan)
                    plans.append(plan)
                    continue
                draw = rng.random()
                if draw < LAPSED_SHARE:  # a period that ended within the last year
                    starts = today - timedelta(days=365 + 1 + rng.randrange(364))
                    plans.append(dict(base, kind="lapsed", starts=starts))
                elif draw < LAPSED_SHARE + TERMINATED_SHARE:
                    starts = today - timedelta(days=60 + rng.randrange(300))
                    stopped = starts + timedelta(days=30 + rng.randrange((today - starts).days - 30))
                    plans.append(dict(base, kind="terminated", starts=starts, stopped=stopped))
                elif draw < LAPSED_SHARE + TERMINATED_SHARE + PENDING_SHARE:
                    plans.append(dict(base, kind="pending", applied=today - timedelta(days=rng.randrange(7))))
            if family and len(current) > 1:
                for plan in current:
                    plan["family_household"] = household_id

    _write(ctx, plans, today, basic["id"])


def _write(ctx, plans: list[dict], today: date, basic_id: int) -> None:
    groups: dict[int, int] = {}
    group_rows = []
    for plan in plans:
        household_id = plan.get("family_household")
        if household_id is not None and household_id not in groups:
            groups[household_id] = ctx.new_id(FamilyGroup)
            group_rows.append(
                dict(
                    id=groups[household_id], household_id=household_id, team_id=plan["ref"].team_id, created_at=ctx.now
                )
            )
    extra = sum(1 for p in plans if p["kind"] == "current" and p["renewed"]) + sum(1 for p in plans if p.get("next"))
    ids = iter(ctx.allocate_ids(Contract, len(plans) + extra))
    first_id = None
    contracts, personal = [], []

    def row(
        plan, *, status, starts, ends, signed_day, previous=None, family=None, terminated=None, applied_day=None
    ) -> int:
        nonlocal first_id
        ref, packages = plan["ref"], plan["packages"]
        contract_id = next(ids)
        first_id = contract_id if first_id is None else first_id
        applied = _local(applied_day or signed_day, 9, 30)
        signed_at = _local(signed_day, 10, 15) if signed_day else None
        contracts.append(
            dict(
                id=contract_id,
                resident_id=ref.id,
                team_id=ref.team_id,
                doctor_id=plan["leader"] if signed_day else None,
                family_group_id=family,
                previous_contract_id=previous,
                status=status,
                channel="clinic",
                applicant_kind="staff",
                applicant_id=plan["leader"] or 0,
                consent_at=applied,
                consent_channel="clinic",
                consent_by_resident_id=plan["guardian"] or ref.id,
                guardian_resident_id=plan["guardian"],
                applied_at=applied,
                signed_at=signed_at,
                signed_by_id=plan["leader"] if signed_day else None,
                starts_on=starts,
                ends_on=ends,
                rejected_at=None,
                rejected_by_id=None,
                reject_reason=None,
                terminated_on=terminated,
                terminated_at=_local(terminated, 15) if terminated else None,
                terminated_by_kind="resident" if terminated else None,
                terminated_by_id=None,
                termination_reason="voluntary" if terminated else None,
                termination_note=None,
                fee=sum((p["price"] for p in packages), Decimal("0")),
                public_health_subsidy=sum((p["public_health_subsidy"] for p in packages), Decimal("0")),
                created_at=ctx.now,
                updated_at=ctx.now,
            )
        )
        personal.extend(
            dict(contract_id=contract_id, package_id=p["id"], price=p["price"])
            for p in packages
            if p["kind"] != "basic"
        )
        return contract_id

    def end_of(starts: date) -> date:
        return plus_one_year(starts) - timedelta(days=1)

    counts = {"active": 0, "expiring": 0, "renewed": 0, "scheduled": 0}
    for plan in plans:
        kind = plan["kind"]
        if kind == "current":
            starts = plan["starts"]
            previous = None
            if plan["renewed"]:
                prev_starts = years_before(starts, 1)
                previous = row(
                    plan, status="expired", starts=prev_starts, ends=starts - timedelta(days=1), signed_day=prev_starts
                )
                counts["renewed"] += 1
            family = groups.get(plan.get("family_household"))
            current_id = row(
                plan,
                status="active",
                starts=starts,
                ends=end_of(starts),
                signed_day=starts,
                previous=previous,
                family=family,
            )
            counts["active"] += 1
            if (end_of(starts) - today).days <= 30:
                counts["expiring"] += 1
            nxt = plan.get("next")
            if nxt == "scheduled":
                following = end_of(starts) + timedelta(days=1)
                row(
                    plan,
                    status="scheduled",
                    starts=following,
                    ends=end_of(following),
                    signed_day=today - timedelta(days=1),
                    previous=current_id,
                    applied_day=today - timedelta(days=2),
                )
                counts["scheduled"] += 1
            elif nxt == "renewal_pending":
                row(
                    plan,
                    status="renewal_pending",
                    starts=None,
                    ends=None,
                    signed_day=None,
                    previous=current_id,
                    applied_day=today - timedelta(days=1),
                )
        elif kind == "lapsed":
            row(plan, status="expired", starts=plan["starts"], ends=end_of(plan["starts"]), signed_day=plan["starts"])
        elif kind == "terminated":
            row(
                plan,
                status="terminated",
                starts=plan["starts"],
                ends=end_of(plan["starts"]),
                signed_day=plan["starts"],
                terminated=plan["stopped"],
            )
        elif kind == "pending":
            row(plan, status="pending", starts=None, ends=None, signed_day=None, applied_day=plan["applied"])
    if group_rows:
        _insert(ctx, FamilyGroup, group_rows)
    if not contracts:
        return
    _insert(ctx, Contract, contracts)
    cp = ContractPackage.__table__
    basic_rows = db.session.execute(
        insert(cp)
        .from_select(
            ["contract_id", "package_id", "price"],
            select(Contract.id, literal(basic_id), literal(Decimal("0"))).where(Contract.id >= first_id),
        )
        .execution_options(preserve_rowcount=True)
    )
    ctx.counts["contract_packages"] += basic_rows.rowcount
    _insert(ctx, ContractPackage, personal)
    _items_and_deliveries(ctx, first_id, today)
    total = sum(len(refs) for refs in ctx.residents.values())
    ctx.notes.append(
        f"Contracts: {counts['active']} active ({counts['active'] / max(total, 1):.0%} of residents), "
        f"{counts['renewed']} continuing last year's, {counts['expiring']} ending within 30 days "
        f"({counts['scheduled']} already renewed), {len(group_rows)} family signings, "
        f"{sum(1 for p in plans if p['kind'] == 'pending')} applications waiting."
    )


def _days_between(later, earlier):
    if db.session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return type_coerce(later - earlier, Integer)


def _plus_days(day, days):
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(day, func.printf("+%d days", days))
    return day + days


def _items_and_deliveries(ctx, first_id: int, today: date) -> None:
    """Entitlements copied from package items; deliveries in proportion to the period elapsed."""
    c, cp, pi = Contract.__table__, ContractPackage.__table__, PackageItem.__table__
    # Days of the period that have passed (0 before it starts; the whole period once over).
    last_day = case(
        (c.c.terminated_on.is_not(None) & (c.c.terminated_on < today), c.c.terminated_on),
        (c.c.ends_on < today, c.c.ends_on),
        else_=literal(today),
    )
    elapsed = case(
        (c.c.signed_at.is_(None) | (c.c.starts_on > today), 0), else_=_days_between(last_day, c.c.starts_on) + 1
    )
    # How diligent the team was with this item: 55 %–104 % of the pro-rata due.
    diligence = 55 + (c.c.id * 37 + pi.c.id * 101) % 50
    due = (pi.c.times_per_year * elapsed * diligence + 18250) // 36500  # rounded pro-rata × diligence
    delivered = case((due > pi.c.times_per_year, pi.c.times_per_year), else_=due)
    items = db.session.execute(
        insert(ContractItem.__table__)
        .from_select(
            ["contract_id", "package_id", "package_item_id", "name", "service_type", "total", "delivered"],
            select(
                cp.c.contract_id, pi.c.package_id, pi.c.id, pi.c.name, pi.c.service_type, pi.c.times_per_year, delivered
            )
            .select_from(cp.join(pi, pi.c.package_id == cp.c.package_id).join(c, c.c.id == cp.c.contract_id))
            .where(cp.c.contract_id >= first_id),
        )
        .execution_options(preserve_rowcount=True)
    )
    ctx.counts["contract_items"] += items.rowcount
    ci = ContractItem.__table__
    n = union_all(*[select(literal(k).label("k")) for k in range(1, MAX_TIMES + 1)]).subquery("n")
    span = _days_between(last_day, c.c.starts_on) + 1
    offset = ((2 * n.c.k - 1) * span) // (2 * ci.c.delivered)
    deliveries = db.session.execute(
        insert(ContractDelivery.__table__)
        .from_select(
            [
                "contract_id",
                "contract_item_id",
                "service_type",
                "delivered_on",
                "delivered_by_id",
                "note",
                "source",
                "source_id",
                "recorded_at",
            ],
            select(
                ci.c.contract_id,
                ci.c.id,
                ci.c.service_type,
                _plus_days(c.c.starts_on, offset),
                c.c.doctor_id,
                literal(None),
                literal("demo"),
                literal(None),
                literal(ctx.now),
            )
            .select_from(ci.join(c, c.c.id == ci.c.contract_id).join(n, n.c.k <= ci.c.delivered))
            .where(ci.c.contract_id >= first_id, ci.c.delivered > 0),
        )
        .execution_options(preserve_rowcount=True)
    )
    ctx.counts["contract_deliveries"] += deliveries.rowcount
