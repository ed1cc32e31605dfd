"""Services recorded after the fact (an import of existing records) counted against the contracts
in force on their days — what ``deliveries.on_service_delivered`` does for one entered by hand, for
any number of them in a few statements: the contracts' open items read once per chunk of residents,
matched in order of the services' days, then one INSERT of the deliveries and one UPDATE per item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, insert, select, update

from app.contracts.models import Contract, ContractDelivery, ContractItem
from app.extensions import db

CHUNK = 5000


@dataclass(frozen=True)
class Service:
    resident_id: int
    service_type: str  # the contract item's type it delivers
    served_on: date
    source: str  # as ContractDelivery.source stores it
    source_id: int
    note: str | None = None


def _in_force(item, on: date) -> bool:
    """``periods.in_force_clause`` for a row already read."""
    ended = item.terminated_on is not None and item.terminated_on <= on
    return item.starts_on <= on <= item.ends_on and not ended


def _counted(services: list[Service]) -> set[tuple]:
    found = set()
    for source in {s.source for s in services}:
        ids = sorted({str(s.source_id) for s in services if s.source == source})
        for start in range(0, len(ids), CHUNK):
            statement = select(
                ContractDelivery.source, ContractDelivery.source_id, ContractDelivery.service_type
            ).where(ContractDelivery.source == source, ContractDelivery.source_id.in_(ids[start : start + CHUNK]))
            found.update(db.session.execute(statement).all())
    return found


def _open_items(resident_ids: list[int]) -> dict[int, list]:
    items = defaultdict(list)
    for start in range(0, len(resident_ids), CHUNK):
        statement = (
            select(
                ContractItem.id,
                ContractItem.contract_id,
                ContractItem.service_type,
                (ContractItem.total - ContractItem.delivered).label("left"),
                Contract.resident_id,
                Contract.starts_on,
                Contract.ends_on,
                Contract.terminated_on,
            )
            .join(Contract, Contract.id == ContractItem.contract_id)
            .where(
                Contract.resident_id.in_(resident_ids[start : start + CHUNK]),
                Contract.signed_at.is_not(None),
                ContractItem.delivered < ContractItem.total,
            )
            .order_by(ContractItem.id)  # the first item of the type with something left, as by hand
        )
        for item in db.session.execute(statement):
            items[item.resident_id].append(item)
    return items


def deliver_recorded(services: list[Service]) -> int:
    """Count each service once (a source already counted is skipped); the deliveries made."""
    if not services:
        return 0
    done = _counted(services)
    items = _open_items(sorted({s.resident_id for s in services}))
    left = {item.id: item.left for rows in items.values() for item in rows}
    deliveries, used = [], defaultdict(int)
    for service in sorted(services, key=lambda s: (s.served_on, s.source_id)):
        key = (service.source, str(service.source_id), service.service_type)
        if key in done:
            continue
        for item in items.get(service.resident_id, ()):
            if item.service_type == service.service_type and left[item.id] > 0 and _in_force(item, service.served_on):
                left[item.id] -= 1
                used[item.id] += 1
                done.add(key)
                deliveries.append(
                    {
                        "contract_id": item.contract_id,
                        "contract_item_id": item.id,
                        "service_type": service.service_type,
                        "delivered_on": service.served_on,
                        "note": service.note,
                        "source": service.source,
                        "source_id": str(service.source_id),
                    }
                )
                break
    if deliveries:
        db.session.execute(insert(ContractDelivery), deliveries)
        db.session.execute(
            update(ContractItem.__table__)
            .where(ContractItem.__table__.c.id == bindparam("item"))
            .values(delivered=ContractItem.__table__.c.delivered + bindparam("n")),
            [{"item": item_id, "n": n} for item_id, n in used.items()],
        )
    return len(deliveries)
