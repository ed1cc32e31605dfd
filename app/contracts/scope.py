"""Who sees and acts on which contract, and the access-log rows contract work writes.

Deny by default, out of scope reads as 404:
- a resident account sees the contracts of itself and of the family members it may act for;
- staff see the contracts of the teams they belong to; institution admins those of every
  team in their subtree; the district admin all. Signing, rejecting and recording
  deliveries are the team's own acts (members only; an admin who can see it gets 403).
"""

from __future__ import annotations

from sqlalchemy import false, or_, select, true

from app.access.actors import Actor
from app.access.scope import institution_ids_clause, resident_ids_for_account
from app.audit import services as audit
from app.contracts.models import Contract
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.orgs.models import Team


def _admin_team_ids(actor: Actor):
    return select(Team.id).where(institution_ids_clause(actor, Team.institution_id))


def contract_clause(actor: Actor):
    """WHERE over ``Contract`` for what the actor may see."""
    if actor.is_staff:
        if actor.is_district_admin:
            return true()
        conditions = []
        if actor.team_ids:
            conditions.append(Contract.team_id.in_(actor.team_ids))
        if "institution_admin" in actor.roles:
            conditions.append(Contract.team_id.in_(_admin_team_ids(actor)))
        return or_(*conditions) if conditions else false()
    ids = resident_ids_for_account(actor)
    return Contract.resident_id.in_(ids) if ids else false()


def get_contract(actor: Actor, contract_id: int) -> Contract:
    contract = db.session.scalar(select(Contract).where(Contract.id == contract_id, contract_clause(actor)))
    if contract is None:
        raise NotFound("contract not found")
    return contract


def require_team_member(actor: Actor, contract: Contract, act: str) -> None:
    if not actor.is_staff or contract.team_id not in actor.team_ids:
        raise Forbidden(f"only members of the contract's team may {act} it")


def log_access(actor, resident_ids, action: str) -> None:
    """One access-log row per resident whose contract was written."""
    purpose = "contract_review" if actor is not None and actor.is_staff else None
    for rid in dict.fromkeys(resident_ids):
        audit.record(actor, rid, action=action, section="contract", purpose=purpose)
