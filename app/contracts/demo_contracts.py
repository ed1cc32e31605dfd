"""Demo data: writing the signing picture decided by ``app.contracts.demo`` — contracts, family
groups, packages, then entitlements (items) and their deliveries.

Rows go in with bulk loads (``COPY`` on PostgreSQL, with the foreign keys checked once at the end);
items and deliveries are ``INSERT … SELECT`` statements on the server, delivered in proportion to
the time elapsed.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, case, cast, func, insert, literal, select, type_coerce, union_all
from sqlalchemy.schema import AddConstraint, DropConstraint

from app.common.time import at_local, years_before
from app.contracts.demo_catalogue import MAX_TIMES
from app.contracts.models import Contract, ContractDelivery, ContractItem, ContractPackage, FamilyGroup, PackageItem
from app.contracts.periods import plus_one_year
from app.extensions import db


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, hour, minute)


BULK_TABLES = (Contract, ContractPackage, ContractItem, ContractDelivery)


@contextmanager
def foreign_keys_checked_once(models):
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


def write_contracts(ctx, plans: list[dict], today: date, basic_id: int) -> None:
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
        ctx.insert(FamilyGroup, group_rows)
    if not contracts:
        return
    ctx.insert(Contract, contracts)
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
    ctx.insert(ContractPackage, personal)
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
