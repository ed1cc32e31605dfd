"""A resident's current contract and a contract's renewal: the reads the archive, the home screen
and the contract views share (the changes are in ``app.contracts.lifecycle``)."""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.orm import joinedload, selectinload

from app.contracts.models import Contract, ContractPackage
from app.extensions import db


def renewal_of(contract: Contract) -> Contract | None:
    return db.session.scalar(
        select(Contract).where(Contract.previous_contract_id == contract.id, Contract.status != "rejected")
    )


def current_contract(resident_id: int) -> Contract | None:
    """The resident's running contract, else their newest open application.

    One query (the running one sorts first), with what the summary shows loaded alongside — team and
    doctor joined, packages and items in one query each — since the archive and the home screen read
    it on every open (lazy loading made that eight round trips)."""
    return db.session.scalar(
        select(Contract)
        .where(
            Contract.resident_id == resident_id,
            Contract.status.in_(("active", "pending", "scheduled", "renewal_pending")),
        )
        .order_by(case((Contract.status == "active", 0), else_=1), Contract.id.desc())
        .limit(1)
        .options(
            joinedload(Contract.team),
            joinedload(Contract.doctor),
            selectinload(Contract.packages).joinedload(ContractPackage.package),
            selectinload(Contract.items),
        )
    )
