"""A resident's current contract and a contract's renewal: the reads the archive, the home screen
and the contract views share (the changes are in ``app.contracts.lifecycle``)."""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from app.accounts.models import Staff
from app.contracts.models import Contract, ContractItem, ContractPackage, ServicePackage
from app.extensions import db
from app.orgs.models import Team

CURRENT_STATUSES = ("active", "pending", "scheduled", "renewal_pending")
# The running contract sorts first, then the newest open application.
_CURRENT_ORDER = (case((Contract.status == "active", 0), else_=1), Contract.id.desc())


def _renewals(renewal, contract_id):
    """The contracts continuing a contract (``renewal``: Contract or an alias of it), first one first."""
    return (
        select(renewal)
        .where(renewal.previous_contract_id == contract_id, renewal.status != "rejected")
        .order_by(renewal.id)
        .limit(1)
    )


def renewal_of(contract: Contract) -> Contract | None:
    """The contract continuing ``contract`` (the first, if ever more than one), as ``current_summary`` shows it."""
    return db.session.scalar(_renewals(Contract, contract.id))


def current_contract(resident_id: int) -> Contract | None:
    """The resident's running contract, else their newest open application.

    One query (the running one sorts first), with what the summary shows loaded alongside — team and
    doctor joined, packages and items in one query each — since the archive and the home screen read
    it on every open (lazy loading made that eight round trips)."""
    return db.session.scalar(
        select(Contract)
        .where(
            Contract.resident_id == resident_id,
            Contract.status.in_(CURRENT_STATUSES),
        )
        .order_by(*_CURRENT_ORDER)
        .limit(1)
        .options(
            joinedload(Contract.team),
            joinedload(Contract.doctor),
            selectinload(Contract.packages).joinedload(ContractPackage.package),
            selectinload(Contract.items),
        )
    )


def _summary_statement():
    renewal = aliased(Contract)
    renewal_of_row = _renewals(renewal, Contract.id)

    def items_sum(column):
        return select(func.coalesce(func.sum(column), 0)).where(ContractItem.contract_id == Contract.id)

    return (
        select(
            Contract.id,
            Contract.status,
            Contract.team_id,
            Team.name.label("team_name"),
            Contract.doctor_id,
            Staff.name.label("doctor_name"),
            Contract.starts_on,
            Contract.ends_on,
            Contract.family_group_id,
            items_sum(ContractItem.total).scalar_subquery().label("items_total"),
            items_sum(ContractItem.delivered).scalar_subquery().label("items_delivered"),
            renewal_of_row.with_only_columns(renewal.id).scalar_subquery().label("renewal_id"),
            renewal_of_row.with_only_columns(renewal.status).scalar_subquery().label("renewal_status"),
        )
        .join(Team, Team.id == Contract.team_id)
        .outerjoin(Staff, Staff.id == Contract.doctor_id)
        .where(Contract.resident_id == bindparam("rid"), Contract.status.in_(CURRENT_STATUSES))
        .order_by(*_CURRENT_ORDER)
        .limit(1)
    )


_CURRENT = _summary_statement().subquery("current")
# The current contract with its package names, one row per package (its columns repeated).
_SUMMARY = (
    select(_CURRENT, ServicePackage.name.label("package_name"))
    .outerjoin(ContractPackage, ContractPackage.contract_id == _CURRENT.c.id)
    .outerjoin(ServicePackage, ServicePackage.id == ContractPackage.package_id)
    .order_by(ContractPackage.id)
)


def current_summary(resident_id: int) -> dict | None:
    """The short description of the resident's current contract that the archive and the home screen
    show on every open: one statement (the contract with its sums, renewal and package names)."""
    rows = db.session.connection().execute(_SUMMARY, {"rid": resident_id}).all()
    if not rows:
        return None
    row = rows[0]
    return {
        "id": row.id,
        "status": row.status,
        "team": {"id": row.team_id, "name": row.team_name},
        "doctor": {"id": row.doctor_id, "name": row.doctor_name} if row.doctor_id is not None else None,
        "starts_on": row.starts_on.isoformat() if row.starts_on else None,
        "ends_on": row.ends_on.isoformat() if row.ends_on else None,
        "packages": [r.package_name for r in rows if r.package_name is not None],
        "items_total": int(row.items_total),
        "items_delivered": int(row.items_delivered),
        "family_group_id": row.family_group_id,
        "renewal": {"id": row.renewal_id, "status": row.renewal_status} if row.renewal_id is not None else None,
    }
