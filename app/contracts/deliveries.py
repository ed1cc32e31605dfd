"""Entitlements delivered (履约): the team records a delivery by hand, and a service recorded by
another feature (a health check, a service record, a follow-up visit) counts against the
resident's contract in force that day through the ``service_delivered`` event.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.common.time import today
from app.contracts.models import Contract, ContractDelivery, ContractItem
from app.contracts.periods import in_force_clause, period_end
from app.contracts.scope import contract_clause, log_access, require_team_member
from app.errors import Conflict, Invalid
from app.extensions import db
from app.residents.models import Resident

# service record kind / "health_check" → the contract item service_type it delivers (a record
# of another kind, e.g. "other", delivers nothing)
DELIVERY_TYPES = {
    "health_check": "health_check",
    "consultation": "consultation",
    "home_visit": "home_visit",
    "tcm": "tcm_guidance",
    "referral": "referral",
}
# the event's source → ContractDelivery.source as stored (and shown) since deliveries began
STORED_SOURCE = {"followup": "followup_visit"}


def _count(item_id: int) -> bool:
    """Add one delivery to an item if any is left: one conditional UPDATE (safe under concurrency)."""
    result = db.session.execute(
        update(ContractItem)
        .where(ContractItem.id == item_id, ContractItem.delivered < ContractItem.total)
        .values(delivered=ContractItem.delivered + 1)
    )
    return result.rowcount == 1


def add_delivery(actor: Actor, contract: Contract, data: dict) -> tuple[ContractDelivery, ContractItem]:
    """The team records a delivered service against one of the contract's items."""
    require_team_member(actor, contract, "record deliveries on")
    if contract.signed_at is None or contract.starts_on is None:
        raise Conflict(
            f"the contract is {contract.status}: nothing is delivered before signing", error="contract_not_signed"
        )
    item = db.session.scalar(
        select(ContractItem).where(
            ContractItem.contract_id == contract.id, ContractItem.package_item_id == data["package_item_id"]
        )
    )
    if item is None:
        raise Invalid("package_item_id", "this contract carries no such package item")
    day = data["delivered_on"]
    if day > today():
        raise Invalid("delivered_on", "a delivery cannot be in the future")
    if not contract.starts_on <= day <= period_end(contract):
        raise Invalid("delivered_on", f"outside the contract period {contract.starts_on} … {period_end(contract)}")
    if not _count(item.id):
        raise Invalid("package_item_id", f"all {item.total} of this item have been delivered")
    delivery = ContractDelivery(
        contract_id=contract.id,
        contract_item_id=item.id,
        service_type=item.service_type,
        delivered_on=day,
        delivered_by_id=actor.id,
        note=data.get("note"),
        source="manual",
    )
    db.session.add(delivery)
    db.session.flush()
    db.session.refresh(item)
    log_access(actor, [contract.resident_id], "update")
    return delivery, item


def record_delivery(
    actor: Actor | None,
    resident_id: int,
    service_type: str,
    delivered_on: date,
    *,
    source: str,
    source_id=None,
    note: str | None = None,
) -> ContractDelivery | None:
    """Count a service delivered by another feature (a follow-up, a health check …).

    Finds the resident's contract in force on ``delivered_on`` and its first item of
    ``service_type`` with something left, and counts one delivery linked to
    ``source``/``source_id``. Returns the delivery, or ``None`` (silently) when there is
    no such contract or item, nothing is left, or this source was already counted.
    Runs in the caller's transaction (inside a savepoint); flushes, never commits.
    """
    source_key = None if source_id is None else str(source_id)
    if (
        source_key is not None
        and db.session.scalar(
            select(ContractDelivery.id)
            .where(
                ContractDelivery.source == source,
                ContractDelivery.source_id == source_key,
                ContractDelivery.service_type == service_type,
            )
            .limit(1)
        )
        is not None
    ):
        return None
    candidates = db.session.execute(
        select(ContractItem.id, ContractItem.contract_id)
        .join(Contract, Contract.id == ContractItem.contract_id)
        .where(
            Contract.resident_id == resident_id,
            in_force_clause(delivered_on),
            ContractItem.service_type == service_type,
            ContractItem.delivered < ContractItem.total,
        )
        .order_by(ContractItem.id)
    ).all()
    for item_id, contract_id in candidates:
        try:
            with db.session.begin_nested():
                if not _count(item_id):
                    continue
                delivery = ContractDelivery(
                    contract_id=contract_id,
                    contract_item_id=item_id,
                    service_type=service_type,
                    delivered_on=delivered_on,
                    delivered_by_id=actor.id if actor is not None and actor.is_staff else None,
                    note=note,
                    source=source,
                    source_id=source_key,
                )
                db.session.add(delivery)
                db.session.flush()
        except IntegrityError:  # the same source counted concurrently
            return None
        return delivery
    return None


def deliveries_of(contract: Contract):
    return (
        select(ContractDelivery)
        .where(ContractDelivery.contract_id == contract.id)
        .order_by(ContractDelivery.delivered_on.desc(), ContractDelivery.id.desc())
    )


def undelivered(actor: Actor, args: dict):
    """The team's worklist: items of running contracts with something still due."""
    stmt = (
        select(ContractItem, Contract, Resident)
        .join(Contract, Contract.id == ContractItem.contract_id)
        .join(Resident, Resident.id == Contract.resident_id)
        .where(contract_clause(actor), Contract.status == "active", ContractItem.delivered < ContractItem.total)
    )
    if (team_id := args.get("team_id")) is not None:
        stmt = stmt.where(Contract.team_id == team_id)
    if service_type := args.get("service_type"):
        stmt = stmt.where(ContractItem.service_type == service_type)
    if (resident_id := args.get("resident_id")) is not None:
        stmt = stmt.where(Contract.resident_id == resident_id)
    return stmt.order_by(Contract.ends_on, Contract.id, ContractItem.id)


def on_service_delivered(
    sender,
    *,
    actor,
    resident_id: int,
    service_type: str,
    served_on: date,
    source: str,
    source_id=None,
    note: str | None = None,
    elderly: dict | None = None,
    **_,  # what other listeners read (e.g. a child check's kind)
) -> None:
    """``events.service_delivered`` listener: count the service against the contract in force.

    A health check delivers a "health_check" item, and an elderly check (``elderly``, its 65+
    items) with the cognitive screen done also a "cognitive_screening" item; a service record
    delivers the item of its kind (:data:`DELIVERY_TYPES`); a follow-up visit names the item type
    itself ("chronic_followup"). Silent when nothing is due (see :func:`record_delivery`)."""
    stored = STORED_SOURCE.get(source, source)
    delivered = DELIVERY_TYPES.get(service_type) if source in ("health_check", "service_record") else service_type
    if delivered:
        record_delivery(actor, resident_id, delivered, served_on, source=stored, source_id=source_id, note=note)
    if source == "health_check" and (elderly or {}).get("cognitive_screen"):
        record_delivery(
            actor, resident_id, "cognitive_screening", served_on, source=stored, source_id=source_id, note=note
        )
