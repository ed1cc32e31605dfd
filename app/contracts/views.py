"""Reading contracts: the scoped list, the full view, and the short summary the archive and the
home screen (GET /me) show."""

from __future__ import annotations

from sqlalchemy import select

from app.access.actors import Actor
from app.contracts.current import current_summary, renewal_of
from app.contracts.models import Contract
from app.contracts.scope import contract_clause
from app.extensions import db
from app.residents.models import Resident


def search(actor: Actor, args: dict):
    stmt = select(Contract).where(contract_clause(actor))
    if status := args.get("status"):
        stmt = stmt.where(Contract.status == status)
    if (team_id := args.get("team_id")) is not None:
        stmt = stmt.where(Contract.team_id == team_id)
    if (resident_id := args.get("resident_id")) is not None:
        stmt = stmt.where(Contract.resident_id == resident_id)
    if (group_id := args.get("family_group_id")) is not None:
        stmt = stmt.where(Contract.family_group_id == group_id)
    if (ends_before := args.get("ends_before")) is not None:
        stmt = stmt.where(Contract.ends_on <= ends_before)
    return stmt.order_by(Contract.id.desc())


def me_section(actor, resident, body: dict) -> None:
    """GET /me: the resident's contract (running, else the open application)."""
    body["contract"] = current_summary(resident.id)


def present(contract: Contract, *, detail: bool = True) -> dict:
    body = {
        "id": contract.id,
        "resident_id": contract.resident_id,
        "resident": {"id": contract.resident.id, "name": contract.resident.name},
        "team_id": contract.team_id,
        "team": {"id": contract.team.id, "name": contract.team.name, "institution_id": contract.team.institution_id},
        "doctor": {"id": contract.doctor.id, "name": contract.doctor.name} if contract.doctor else None,
        "status": contract.status,
        "channel": contract.channel,
        "family_group_id": contract.family_group_id,
        "previous_contract_id": contract.previous_contract_id,
        "applied_at": contract.applied_at,
        "signed_at": contract.signed_at,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "fee": contract.fee,
        "public_health_subsidy": contract.public_health_subsidy,
        "consent": {
            "at": contract.consent_at,
            "channel": contract.consent_channel,
            "by_resident_id": contract.consent_by_resident_id,
        },
        "guardian_resident_id": contract.guardian_resident_id,
        "reject_reason": contract.reject_reason,
        "terminated_on": contract.terminated_on,
        "termination_reason": contract.termination_reason,
        "packages": [
            {
                "id": row.package.id,
                "code": row.package.code,
                "version": row.package.version,
                "name": row.package.name,
                "kind": row.package.kind,
                "price": row.price,
            }
            for row in contract.packages
        ],
    }
    if detail:
        body["items"] = [
            {
                "id": i.id,
                "package_item_id": i.package_item_id,
                "package_id": i.package_id,
                "name": i.name,
                "service_type": i.service_type,
                "total": i.total,
                "delivered": i.delivered,
                "remaining": i.remaining,
            }
            for i in contract.items
        ]
        renewal = renewal_of(contract)
        body["renewal"] = {"id": renewal.id, "status": renewal.status} if renewal else None
        body["family_members"] = []
        if contract.family_group_id is not None:
            rows = db.session.execute(
                select(Contract.id, Contract.resident_id, Contract.status, Resident.name)
                .join(Resident, Resident.id == Contract.resident_id)
                .where(Contract.family_group_id == contract.family_group_id)
                .order_by(Contract.id)
            ).all()
            body["family_members"] = [
                {"contract_id": r.id, "resident_id": r.resident_id, "name": r.name, "status": r.status} for r in rows
            ]
    return body
