"""Write a batch of checked 签约 rows (app.exchange.upsert's way): contracts created or updated, a new
contract's packages and entitlements as signing makes them, the resident's team from the contract in
force."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, insert, select

from app.contracts.models import Contract, ContractDelivery, ContractItem, ContractPackage, PackageItem, ServicePackage
from app.exchange.upsert import Batch, Outcome, resident_ids_of, stored_rows, upsert_rows
from app.exchange.validate import Row
from app.extensions import db
from app.residents.models import Resident
from app.residents.services import assign_team

# The statuses of a contract that was signed (a pending or rejected application was not).
SIGNED = ("scheduled", "active", "terminated", "expired")


def _packages(package_ids: set[int]) -> tuple[dict, dict]:
    prices = {
        pid: (price, subsidy)
        for pid, price, subsidy in db.session.execute(
            select(ServicePackage.id, ServicePackage.price, ServicePackage.public_health_subsidy).where(
                ServicePackage.id.in_(package_ids)
            )
        )
    }
    items = defaultdict(list)
    statement = select(PackageItem).where(PackageItem.package_id.in_(package_ids)).order_by(PackageItem.position)
    for item in db.session.scalars(statement):
        items[item.package_id].append(item)
    return prices, items


def _entitlements(contracts: dict[int, list[int]], prices: dict, items: dict) -> None:
    """A contract's packages and its entitlements (an item per package item), as signing makes them."""
    if not contracts:
        return
    packages = [
        {"contract_id": cid, "package_id": pid, "price": prices[pid][0]}
        for cid, pids in contracts.items()
        for pid in pids
    ]
    db.session.execute(insert(ContractPackage), packages)
    entitlements = [
        {
            "contract_id": cid,
            "package_id": pid,
            "package_item_id": i.id,
            "name": i.name,
            "service_type": i.service_type,
            "total": i.times_per_year,
            "delivered": 0,
        }
        for cid, pids in contracts.items()
        for pid in pids
        for i in items[pid]
    ]
    if entitlements:
        db.session.execute(insert(ContractItem), entitlements)


def write_contracts(batch: Batch, rows: list[Row]) -> Outcome:
    ids = resident_ids_of(batch, rows)
    stored = stored_rows(Contract, Contract.resident_id.in_(ids))
    found = {(r["resident_id"], r["starts_on"]): r for r in stored}
    carried = defaultdict(list)
    if stored:
        statement = select(ContractPackage.contract_id, ContractPackage.package_id).where(
            ContractPackage.contract_id.in_([r["id"] for r in stored])
        )
        for cid, pid in db.session.execute(statement.order_by(ContractPackage.id)):
            carried[cid].append(pid)
    prices, items = _packages({p for row in rows for p in row.refs.get("package_ids", ())})

    def fill(record, row, current):
        pids = row.refs.get("package_ids", [])
        record["resident_id"] = row.refs["resident_id"]
        record["team_id"] = row.refs["team_id"]
        if "doctor.name" in batch.present:
            record["doctor_id"] = row.refs.get("doctor_id")
        for column, part in (("fee", 0), ("public_health_subsidy", 1)):
            if row.values.get(column) is None:  # empty: the packages' price, and a past contract keeps its own
                record[column] = current[column] if current else sum((prices[p][part] for p in pids), start=0)
        if record.get("signed_at") is None and record["status"] in SIGNED:
            # a signed contract without 签约时间 was signed when consent was given: without a signing
            # time the product would never count it as in force
            record["signed_at"] = record["consent_at"]
        if current is None:
            record.update(
                applicant_kind="staff",
                applicant_id=batch.actor_id or 0,
                consent_channel=record["channel"],
                consent_by_resident_id=row.refs["resident_id"],
                applied_at=record.get("signed_at") or record["consent_at"],
                signed_by_id=record.get("doctor_id"),
            )

    for row in rows:
        row.refs["key"] = (row.refs["resident_id"], row.values["starts_on"])
    outcome = upsert_rows(Contract, batch, rows, found, fill)
    by_key = {row.refs["key"]: row for row in rows}
    # packages: a new contract's as given; a stored one's replaced when the file names others and
    # nothing has been delivered on it yet (delivered services keep the entitlements they used)
    replace = {
        r["id"]: by_key[k].refs.get("package_ids", [])
        for k, r in found.items()
        if k in by_key
        and "packages" in batch.present
        and sorted(carried[r["id"]]) != sorted(by_key[k].refs.get("package_ids", []))
    }
    delivered = (
        set(db.session.scalars(select(ContractDelivery.contract_id).where(ContractDelivery.contract_id.in_(replace))))
        if replace
        else set()
    )
    replace = {cid: pids for cid, pids in replace.items() if cid not in delivered}
    if replace:
        db.session.execute(delete(ContractItem).where(ContractItem.contract_id.in_(replace)))
        db.session.execute(delete(ContractPackage).where(ContractPackage.contract_id.in_(replace)))
        changed = {cid for cid, _ in outcome.updated}
        resident_of = {r["id"]: r["resident_id"] for r in stored}
        for cid in replace.keys() - changed:  # only its packages changed
            outcome.updated.append((cid, resident_of[cid]))
            outcome.unchanged -= 1
    new_rows = [row for row in rows if row.refs["key"] not in found]
    fresh = {cid: row.refs.get("package_ids", []) for (cid, _), row in zip(outcome.created, new_rows, strict=True)}
    _entitlements({**fresh, **replace}, prices, items)
    _assign_teams(rows, outcome)
    return outcome


def _assign_teams(rows: list[Row], outcome: Outcome) -> None:
    """A resident is served by the team of the contract in force (as when signing starts it): for the
    contracts this batch created or changed, where the resident is not that team's already."""
    written = {resident for _, resident in outcome.created + outcome.updated}
    wanted = {
        row.refs["resident_id"]: row.refs["team_id"]
        for row in rows
        if row.values.get("status") == "active" and row.refs["resident_id"] in written
    }
    if not wanted:
        return
    teams = dict(db.session.execute(select(Resident.id, Resident.team_id).where(Resident.id.in_(wanted))).all())
    by_team = defaultdict(list)
    for resident, team_id in wanted.items():
        if teams.get(resident) != team_id:
            by_team[team_id].append(resident)
    for team_id, residents in by_team.items():
        assign_team(residents, team_id)
