"""A contract's life: apply, sign, reject, terminate, renew (the current contract: ``app.contracts.current``).

Statuses (``app.contracts.models``): pending → active (signed) or rejected; a renewal is
renewal_pending until signed, then scheduled after the running period (or active at once when
that period is over); active → terminated early or expired by the night job (``jobs``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import resident_ids_for_account
from app.common.time import now, today
from app.contracts.applicants import (
    carried_packages,
    channel_for,
    choose_packages,
    guardian_for,
    is_child,
    residents_for,
    team_for,
)
from app.contracts.current import renewal_of
from app.contracts.models import OPEN_STATUSES, Contract, ContractItem, ContractPackage, FamilyGroup, ServicePackage
from app.contracts.notifications import tell_resident, tell_team
from app.contracts.periods import period_from
from app.contracts.scope import log_access, require_team_member
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.orgs.models import Team
from app.residents.models import Resident
from app.residents.services import assign_team

RENEWAL_WINDOW_DAYS = 90  # a running contract may be renewed in its last 90 days


# --- applying ---------------------------------------------------------------------


def _ensure_nothing_open(resident_ids: list[int], ended: list[int] = ()) -> None:
    """409 if a resident already has a current contract or application (``ended``: contract ids
    whose period is over but which the night job has not marked expired yet — not counted)."""
    stmt = select(Contract.resident_id).where(
        Contract.resident_id.in_(resident_ids), Contract.status.in_(OPEN_STATUSES)
    )
    if ended:
        stmt = stmt.where(Contract.id.not_in(list(ended)))
    busy = db.session.scalar(stmt.limit(1))
    if busy is not None:
        raise Conflict(f"resident {busy} already has a current contract or application", error="contract_exists")


def _new_contract(
    actor: Actor,
    resident: Resident,
    team: Team,
    chosen: list[ServicePackage],
    *,
    channel: str,
    guardian: Resident | None,
    group: FamilyGroup | None,
    previous: Contract | None = None,
    status: str = "pending",
) -> Contract:
    at = now()
    if actor.is_staff:
        consent_by = guardian.id if guardian else resident.id  # given in person, recorded by staff
    else:
        consent_by = actor.resident_id
    contract = Contract(
        resident_id=resident.id,
        team_id=team.id,
        status=status,
        channel=channel,
        applicant_kind="staff" if actor.is_staff else "resident",
        applicant_id=actor.id,
        consent_at=at,
        consent_channel=channel,
        consent_by_resident_id=consent_by,
        guardian_resident_id=guardian.id if guardian else None,
        applied_at=at,
        family_group_id=group.id if group else None,
        previous_contract_id=previous.id if previous else None,
        fee=sum((p.price for p in chosen), Decimal("0")),
        public_health_subsidy=sum((p.public_health_subsidy for p in chosen), Decimal("0")),
    )
    contract.packages = [ContractPackage(package_id=p.id, price=p.price) for p in chosen]
    # Entitlements are fixed by the package versions applied for: a later edit of a
    # package (a new version) does not change them.
    contract.items = [
        ContractItem(
            package_id=p.id,
            package_item_id=i.id,
            name=i.name,
            service_type=i.service_type,
            total=i.times_per_year,
            delivered=0,
        )
        for p in chosen
        for i in p.items
    ]
    db.session.add(contract)
    return contract


def _flush_or_conflict() -> None:
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request got there first (partial unique index)
        db.session.rollback()
        raise Conflict(
            "a resident in this request already has a current contract or application", error="contract_exists"
        ) from None


def apply(actor: Actor, data: dict) -> list[Contract]:
    """Apply for a contract (one resident, or a household together). Returns the contracts made."""
    on = today()
    residents = residents_for(actor, data["resident_ids"])
    channel = channel_for(actor, data.get("channel"))
    team = team_for(actor, data["team_id"], residents)
    guardians = {
        r.id: guardian_for(actor, r, data.get("guardian_resident_id"), on) for r in residents if is_child(r, on)
    }
    if data.get("guardian_resident_id") is not None and not guardians:
        raise Invalid("guardian_resident_id", "only for a child under 14")
    chosen = choose_packages(data["package_ids"], residents, on)
    _ensure_nothing_open([r.id for r in residents])
    group = None
    if len(residents) > 1:
        group = FamilyGroup(household_id=residents[0].household_id, team_id=team.id)
        db.session.add(group)
        db.session.flush()
    contracts = [
        _new_contract(actor, r, team, chosen[r.id], channel=channel, guardian=guardians.get(r.id), group=group)
        for r in residents
    ]
    _flush_or_conflict()
    log_access(actor, [r.id for r in residents], "create")
    if not actor.is_staff:
        tell_team(team, contracts[0], len(contracts))
    return contracts


# --- the team's answer ----------------------------------------------------------


def _group_members(contract: Contract, statuses) -> list[Contract]:
    if contract.family_group_id is None:
        return [contract] if contract.status in statuses else []
    return list(
        db.session.scalars(
            select(Contract)
            .where(Contract.family_group_id == contract.family_group_id, Contract.status.in_(statuses))
            .order_by(Contract.id)
        )
    )


def _doctor_for(team: Team, actor: Actor, doctor_id: int | None) -> int:
    members = {m.staff_id: m.role for m in team.members}
    if doctor_id is not None:
        if doctor_id not in members:
            raise Invalid("doctor_id", "the responsible doctor is a member of the team")
        return doctor_id
    leader = next((sid for sid, role in members.items() if role == "leader_gp"), None)
    return leader or actor.id


def _previous(contract: Contract) -> Contract | None:
    return db.session.get(Contract, contract.previous_contract_id) if contract.previous_contract_id else None


def _sign_one(contract: Contract, actor: Actor, doctor_id: int, on: date, previous: Contract | None = None) -> None:
    """Sign: active from today, or — a renewal while the last period runs — scheduled after it."""
    previous = previous or _previous(contract)
    if previous is not None and previous.status == "active" and previous.ends_on < on:
        previous.status = "expired"  # its period is over; the night job has not run yet
    if previous is not None and previous.status == "active" and previous.ends_on >= on:
        contract.starts_on, contract.ends_on = period_from(previous.ends_on + timedelta(days=1))
        contract.status = "scheduled"
    else:
        contract.starts_on, contract.ends_on = period_from(on)
        contract.status = "active"
    contract.signed_at, contract.signed_by_id, contract.doctor_id = now(), actor.id, doctor_id


def sign(actor: Actor, contract: Contract, data: dict) -> Contract:
    """The team signs an application; a family's pending members are signed together."""
    require_team_member(actor, contract, "sign")
    if contract.status not in ("pending", "renewal_pending"):
        raise Conflict(f"the contract is {contract.status}, not waiting for signing", error="contract_not_pending")
    on = today()
    doctor_id = _doctor_for(contract.team, actor, data.get("doctor_id"))
    members = _group_members(contract, ("pending", "renewal_pending"))
    for member in members:
        _sign_one(member, actor, doctor_id, on)
    _flush_or_conflict()
    started = [m.resident_id for m in members if m.status == "active"]
    assign_team(started, contract.team_id)
    for member in members:
        tell_resident(
            member,
            "contract_signed",
            f"contract-signed:{member.id}",
            {
                "title": "家庭医生签约成功",
                "team": member.team.name,
                "body": f"您已与{member.team.name}签约，服务期 {member.starts_on} 至 {member.ends_on}。",
                "starts_on": member.starts_on.isoformat(),
                "ends_on": member.ends_on.isoformat(),
                "contract_id": member.id,
            },
        )
    log_access(actor, [m.resident_id for m in members], "update")
    return contract


def reject(actor: Actor, contract: Contract, data: dict) -> Contract:
    require_team_member(actor, contract, "reject")
    if contract.status not in ("pending", "renewal_pending"):
        raise Conflict(f"the contract is {contract.status}, not waiting for signing", error="contract_not_pending")
    members = _group_members(contract, ("pending", "renewal_pending"))
    at = now()
    for member in members:
        member.status, member.rejected_at, member.rejected_by_id = "rejected", at, actor.id
        member.reject_reason = data["reason"]
        tell_resident(
            member,
            "contract_rejected",
            f"contract-rejected:{member.id}",
            {
                "title": "签约申请未通过",
                "team": member.team.name,
                "reason": data["reason"],
                "body": f"{member.team.name}未通过您的签约申请：{data['reason']}",
                "contract_id": member.id,
            },
        )
    db.session.flush()
    log_access(actor, [m.resident_id for m in members], "update")
    return contract


def terminate(actor: Actor, contract: Contract, data: dict) -> Contract:
    """End a running (or scheduled) contract early for one of the reasons of docs/domain.md §5."""
    if actor.is_staff:
        admin = actor.is_district_admin or "institution_admin" in actor.roles
        if contract.team_id not in actor.team_ids and not admin:
            raise Forbidden("only the team or an administrator may terminate a contract")
    elif data["reason"] != "voluntary":
        raise Invalid("reason", "a resident ends a contract voluntarily ('voluntary')")
    if contract.status not in ("active", "scheduled"):
        raise Conflict(f"the contract is {contract.status}, not running", error="contract_not_active")
    on, at = today(), now()
    ending = [contract]
    ending += list(
        db.session.scalars(
            select(Contract).where(
                Contract.previous_contract_id == contract.id, Contract.status.in_(("scheduled", "renewal_pending"))
            )
        )
    )
    for item in ending:
        if item.status == "renewal_pending":
            item.status, item.rejected_at, item.reject_reason = "rejected", at, "previous contract terminated"
            continue
        item.status, item.terminated_on, item.terminated_at = "terminated", on, at
        item.terminated_by_kind = "staff" if actor.is_staff else "resident"
        item.terminated_by_id = actor.id
        item.termination_reason, item.termination_note = data["reason"], data.get("note")
    db.session.flush()
    log_access(actor, [contract.resident_id], "update")
    return contract


def renew(actor: Actor, contract: Contract, data: dict) -> Contract:
    """Create the next period's contract, linked to this one (a family renews together).

    The team renewing (with the resident's consent) signs at once: ``scheduled`` after the
    running period, or ``active`` from today when the last period has ended. A resident
    renewing from the phone asks the team, which signs as for any application.
    """
    if actor.is_staff:
        require_team_member(actor, contract, "renew")
    if contract.status not in ("active", "expired"):
        raise Conflict(f"a {contract.status} contract cannot be renewed", error="contract_not_renewable")
    on = today()
    if contract.status == "active" and (contract.ends_on - on).days > RENEWAL_WINDOW_DAYS:
        raise Conflict(
            f"renewal opens {RENEWAL_WINDOW_DAYS} days before the end of the period", error="renewal_not_open"
        )
    if renewal_of(contract) is not None:
        raise Conflict("this contract has already been renewed", error="already_renewed")
    team = contract.team
    if not team.active:
        raise Conflict("the team no longer works; apply to another team", error="team_inactive")
    members = [contract]
    if contract.family_group_id is not None:
        visible = set(resident_ids_for_account(actor)) if not actor.is_staff else None
        for other in _group_members(contract, ("active", "expired")):
            if (
                other.id != contract.id
                and renewal_of(other) is None
                and other.resident.status == "active"
                and (visible is None or other.resident_id in visible)
            ):
                members.append(other)
    residents = [m.resident for m in members]
    if data.get("package_ids"):
        chosen = choose_packages(data["package_ids"], residents, on)
    else:
        chosen = {m.resident_id: carried_packages(m, m.resident, on) for m in members}
    guardians = {
        r.id: guardian_for(actor, r, data.get("guardian_resident_id"), on) for r in residents if is_child(r, on)
    }
    # A fresh start (the last period is over) must not collide with another current contract.
    over = [m for m in members if m.status == "expired" or m.ends_on < on]
    if over:
        _ensure_nothing_open([m.resident_id for m in over], ended=[m.id for m in over])
        for member in over:
            member.status = "expired"  # what the night job does (it may not have run yet today)
    group = None
    if len(members) > 1:
        group = FamilyGroup(household_id=residents[0].household_id, team_id=team.id)
        db.session.add(group)
        db.session.flush()
    channel = channel_for(actor, data.get("channel"))
    doctor_id = (contract.doctor_id or _doctor_for(team, actor, None)) if actor.is_staff else None
    created = []
    for member in members:
        new = _new_contract(
            actor,
            member.resident,
            team,
            chosen[member.resident_id],
            channel=channel,
            guardian=guardians.get(member.resident_id),
            group=group,
            previous=member,
            status="pending" if member in over else "renewal_pending",
        )
        if actor.is_staff:  # the renewing team member signs at once (before the first flush)
            _sign_one(new, actor, doctor_id, on, previous=member)
        created.append(new)
    _flush_or_conflict()
    if actor.is_staff:
        assign_team([c.resident_id for c in created if c.status == "active"], team.id)
    else:
        tell_team(team, created[0], len(created))
    log_access(actor, [c.resident_id for c in created], "create")
    return created[0]
