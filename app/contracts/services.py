"""Contracts: apply, sign, reject, terminate, renew; entitlements and deliveries (履约).

Scope (deny by default, out of scope reads as 404):
- a resident account sees the contracts of itself and of the family members it may act for;
- staff see the contracts of the teams they belong to; institution admins those of every
  team in their subtree; the district admin all. Signing, rejecting and recording
  deliveries are the team's own acts (members only; an admin who can see it gets 403).

For other features:
- :func:`record_delivery` counts a service (a follow-up, a health check …) against the
  resident's contract in force on that day, if it carries such an item with some left.
- :func:`current_contract` / :func:`contract_summary` for archive and "me" views.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, false, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.access.actors import Actor
from app.access.scope import get_resident, institution_ids_clause, resident_ids_for_account
from app.audit import services as audit
from app.common.time import age_on, at_local, now, today
from app.contracts import packages as catalogue
from app.contracts.models import (
    OPEN_STATUSES,
    RESIDENT_CHANNELS,
    STAFF_CHANNELS,
    Contract,
    ContractDelivery,
    ContractItem,
    ContractPackage,
    FamilyGroup,
    ServicePackage,
)
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import Team, TeamMember
from app.residents.models import Resident
from app.residents.populations import populations_of

log = logging.getLogger(__name__)

GUARDIAN_AGE = 14  # PIPL art. 31: under 14, a guardian consents
ADULT_AGE = 18
RENEWAL_WINDOW_DAYS = 90  # a running contract may be renewed in its last 90 days
MAX_FAMILY = 10


# --- periods ------------------------------------------------------------------

def plus_one_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 Feb
        return date(day.year + 1, 3, 1)


def period_from(starts_on: date) -> tuple[date, date]:
    """One year from the signing day: 2024-03-10 … 2025-03-09."""
    return starts_on, plus_one_year(starts_on) - timedelta(days=1)


def in_force_clause(on: date):
    """SQL over ``Contract``: signed and running on ``on`` (terminated on that day or before: not)."""
    return and_(Contract.signed_at.is_not(None), Contract.starts_on <= on, Contract.ends_on >= on,
                or_(Contract.terminated_on.is_(None), Contract.terminated_on > on))


# --- scope ----------------------------------------------------------------------

def _is_admin_clause(actor: Actor):
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
            conditions.append(Contract.team_id.in_(_is_admin_clause(actor)))
        return or_(*conditions) if conditions else false()
    ids = resident_ids_for_account(actor)
    return Contract.resident_id.in_(ids) if ids else false()


def get_contract(actor: Actor, contract_id: int) -> Contract:
    contract = db.session.scalar(select(Contract).where(Contract.id == contract_id, contract_clause(actor)))
    if contract is None:
        raise NotFound("contract not found")
    return contract


def _require_team_member(actor: Actor, contract: Contract, act: str) -> None:
    if not actor.is_staff or contract.team_id not in actor.team_ids:
        raise Forbidden(f"only members of the contract's team may {act} it")


def _log(actor, resident_ids, action: str) -> None:
    purpose = "contract_review" if actor is not None and actor.is_staff else None
    for rid in dict.fromkeys(resident_ids):
        audit.record(actor, rid, action=action, section="contract", purpose=purpose)


# --- who signs for whom ------------------------------------------------------------

def _is_child(resident: Resident, on: date) -> bool:
    return age_on(resident.birth_on, on) < GUARDIAN_AGE


def _check_guardian(guardian: Resident | None, child: Resident, on: date, field: str) -> Resident:
    if guardian is None or guardian.id == child.id or age_on(guardian.birth_on, on) < ADULT_AGE \
            or child.household_id is None or guardian.household_id != child.household_id:
        raise Invalid(field, "a child under 14 is signed by a guardian: an adult of the same household",
                      error="guardian_required")
    return guardian


def _guardian_for(actor: Actor, child: Resident, guardian_id: int | None, on: date) -> Resident:
    """The guardian signing for a child under 14 (the applying account, or named by staff)."""
    if not actor.is_staff:
        if actor.resident_id == child.id:
            raise Invalid("resident_ids", "a child under 14 is signed by a guardian", error="guardian_required")
        if guardian_id is not None and guardian_id != actor.resident_id:
            raise Invalid("guardian_resident_id", "the guardian is the account holder applying")
        me = db.session.get(Resident, actor.resident_id) if actor.resident_id else None
        return _check_guardian(me, child, on, "resident_ids")
    if guardian_id is None:
        guardian = _inherited_guardian(child)
        if guardian is None:
            raise Invalid("guardian_resident_id", "required when signing a child under 14",
                          error="guardian_required")
        return _check_guardian(guardian, child, on, "guardian_resident_id")
    try:
        guardian = get_resident(actor, guardian_id)
    except NotFound:
        raise Invalid("guardian_resident_id", "no such resident in your scope") from None
    return _check_guardian(guardian, child, on, "guardian_resident_id")


def _inherited_guardian(child: Resident) -> Resident | None:
    """For a renewal in clinic: the guardian of the child's previous contract."""
    gid = db.session.scalar(select(Contract.guardian_resident_id).where(
        Contract.resident_id == child.id, Contract.guardian_resident_id.is_not(None))
        .order_by(Contract.id.desc()).limit(1))
    return db.session.get(Resident, gid) if gid else None


# --- applying ---------------------------------------------------------------------

def _team_for(actor: Actor, team_id: int, residents: list[Resident]) -> Team:
    team = db.session.get(Team, team_id)
    if team is None or not team.active:
        raise Invalid("team_id", "no such active team")
    if actor.is_staff:
        admin = actor.is_district_admin or (
            "institution_admin" in actor.roles and team.institution.path.startswith(actor.institution_path))
        if team.id not in actor.team_ids and not admin:
            raise Invalid("team_id", "staff apply for residents of their own team")
    for resident in residents:
        here, there = resident.institution.path, team.institution.path
        if not (here.startswith(there) or there.startswith(here)):
            raise Invalid("team_id", "this team does not serve the resident's institution")
    return team


def _choose_packages(package_ids: list[int], residents: list[Resident], on: date) -> dict[int, list[ServicePackage]]:
    """Per resident: the basic package plus the personalised ones that fit them."""
    if not package_ids:
        raise Invalid("package_ids", "choose at least the basic package")
    wanted = list(dict.fromkeys(package_ids))
    found = {p.id: p for p in db.session.scalars(select(ServicePackage).where(ServicePackage.id.in_(wanted)))}
    chosen = []
    for pid in wanted:
        package = found.get(pid)
        if package is None or not catalogue.is_current(package, on):
            raise Invalid("package_ids", f"package {pid} is not on offer")
        chosen.append(package)
    basics = [p for p in chosen if p.kind == "basic"]
    if len(basics) != 1:
        raise Invalid("package_ids", "choose exactly one basic package")
    result: dict[int, list[ServicePackage]] = {}
    used: set[int] = set()
    for resident in residents:
        mine = populations_of(resident, on)
        fitting = []
        for package in chosen:
            if not catalogue.is_offered_to(package, resident.institution.path):
                raise Invalid("package_ids", f"package {package.id} is not offered at the resident's institution")
            if catalogue.fits(package, mine):
                fitting.append(package)
                used.add(package.id)
        result[resident.id] = fitting
    for package in chosen:
        if package.id not in used:
            raise Invalid("package_ids", f"package {package.id} is not for these residents' populations")
    return result


def _ensure_nothing_open(resident_ids: list[int], ended: list[int] = ()) -> None:
    """409 if a resident already has a current contract or application (``ended``: contract ids
    whose period is over but which the night job has not marked expired yet — not counted)."""
    stmt = select(Contract.resident_id).where(Contract.resident_id.in_(resident_ids),
                                              Contract.status.in_(OPEN_STATUSES))
    if ended:
        stmt = stmt.where(Contract.id.not_in(list(ended)))
    busy = db.session.scalar(stmt.limit(1))
    if busy is not None:
        raise Conflict(f"resident {busy} already has a current contract or application",
                       error="contract_exists")


def _new_contract(actor: Actor, resident: Resident, team: Team, chosen: list[ServicePackage], *,
                  channel: str, guardian: Resident | None, group: FamilyGroup | None,
                  previous: Contract | None = None, status: str = "pending") -> Contract:
    at = now()
    if actor.is_staff:
        consent_by = guardian.id if guardian else resident.id  # given in person, recorded by staff
    else:
        consent_by = actor.resident_id
    contract = Contract(
        resident_id=resident.id, team_id=team.id, status=status, channel=channel,
        applicant_kind="staff" if actor.is_staff else "resident", applicant_id=actor.id,
        consent_at=at, consent_channel=channel, consent_by_resident_id=consent_by,
        guardian_resident_id=guardian.id if guardian else None, applied_at=at,
        family_group_id=group.id if group else None, previous_contract_id=previous.id if previous else None,
        fee=sum((p.price for p in chosen), Decimal("0")),
        public_health_subsidy=sum((p.public_health_subsidy for p in chosen), Decimal("0")))
    contract.packages = [ContractPackage(package_id=p.id, price=p.price) for p in chosen]
    # Entitlements are fixed by the package versions applied for: a later edit of a
    # package (a new version) does not change them.
    contract.items = [ContractItem(package_id=p.id, package_item_id=i.id, name=i.name, service_type=i.service_type,
                                   total=i.times_per_year, delivered=0)
                      for p in chosen for i in p.items]
    db.session.add(contract)
    return contract


def _flush_or_conflict() -> None:
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request got there first (partial unique index)
        db.session.rollback()
        raise Conflict("a resident in this request already has a current contract or application",
                       error="contract_exists") from None


def _channel(actor: Actor, requested: str | None) -> str:
    allowed = STAFF_CHANNELS if actor.is_staff else RESIDENT_CHANNELS
    channel = requested or allowed[0]
    if channel not in allowed:
        raise Invalid("channel", "one of: " + ", ".join(allowed))
    return channel


def _residents_for(actor: Actor, resident_ids: list[int]) -> list[Resident]:
    ids = list(dict.fromkeys(resident_ids))
    if not ids:
        raise Invalid("resident_ids", "name at least one resident")
    if len(ids) > MAX_FAMILY:
        raise Invalid("resident_ids", f"at most {MAX_FAMILY} residents sign together")
    residents = [get_resident(actor, rid) for rid in ids]  # 404 outside the caller's scope
    for resident in residents:
        if resident.status != "active":
            raise Invalid("resident_ids", f"resident {resident.id}'s archive is not active")
    if len(residents) > 1:
        households = {r.household_id for r in residents}
        if None in households or len(households) != 1:
            raise Invalid("resident_ids", "a family contract is for members of one household")
    return residents


def apply(actor: Actor, data: dict) -> list[Contract]:
    """Apply for a contract (one resident, or a household together). Returns the contracts made."""
    on = today()
    residents = _residents_for(actor, data["resident_ids"])
    channel = _channel(actor, data.get("channel"))
    team = _team_for(actor, data["team_id"], residents)
    guardians = {r.id: _guardian_for(actor, r, data.get("guardian_resident_id"), on)
                 for r in residents if _is_child(r, on)}
    if data.get("guardian_resident_id") is not None and not guardians:
        raise Invalid("guardian_resident_id", "only for a child under 14")
    chosen = _choose_packages(data["package_ids"], residents, on)
    _ensure_nothing_open([r.id for r in residents])
    group = None
    if len(residents) > 1:
        group = FamilyGroup(household_id=residents[0].household_id, team_id=team.id)
        db.session.add(group)
        db.session.flush()
    contracts = [_new_contract(actor, r, team, chosen[r.id], channel=channel, guardian=guardians.get(r.id),
                               group=group) for r in residents]
    _flush_or_conflict()
    _log(actor, [r.id for r in residents], "create")
    if not actor.is_staff:
        _tell_team(team, contracts[0], len(contracts))
    return contracts


# --- the team's answer ----------------------------------------------------------

def _group_members(contract: Contract, statuses) -> list[Contract]:
    if contract.family_group_id is None:
        return [contract] if contract.status in statuses else []
    return list(db.session.scalars(select(Contract).where(
        Contract.family_group_id == contract.family_group_id, Contract.status.in_(statuses))
        .order_by(Contract.id)))


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


def assign_team(resident_ids: list[int], team_id: int) -> None:
    """The responsible team (责任团队) of residents becomes the team they signed with."""
    if resident_ids:
        db.session.execute(update(Resident).where(Resident.id.in_(resident_ids))
                           .values(team_id=team_id, updated_at=now()))


def sign(actor: Actor, contract: Contract, data: dict) -> Contract:
    """The team signs an application; a family's pending members are signed together."""
    _require_team_member(actor, contract, "sign")
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
        _tell_resident(member, "contract_signed", f"contract-signed:{member.id}", {
            "title": "家庭医生签约成功", "team": member.team.name,
            "body": f"您已与{member.team.name}签约，服务期 {member.starts_on} 至 {member.ends_on}。",
            "starts_on": member.starts_on.isoformat(), "ends_on": member.ends_on.isoformat(),
            "contract_id": member.id})
    _log(actor, [m.resident_id for m in members], "update")
    return contract


def reject(actor: Actor, contract: Contract, data: dict) -> Contract:
    _require_team_member(actor, contract, "reject")
    if contract.status not in ("pending", "renewal_pending"):
        raise Conflict(f"the contract is {contract.status}, not waiting for signing", error="contract_not_pending")
    members = _group_members(contract, ("pending", "renewal_pending"))
    at = now()
    for member in members:
        member.status, member.rejected_at, member.rejected_by_id = "rejected", at, actor.id
        member.reject_reason = data["reason"]
        _tell_resident(member, "contract_rejected", f"contract-rejected:{member.id}", {
            "title": "签约申请未通过", "team": member.team.name, "reason": data["reason"],
            "body": f"{member.team.name}未通过您的签约申请：{data['reason']}", "contract_id": member.id})
    db.session.flush()
    _log(actor, [m.resident_id for m in members], "update")
    return contract


def terminate(actor: Actor, contract: Contract, data: dict) -> Contract:
    """End a running (or scheduled) contract early for one of DOMAIN §5's reasons."""
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
    ending += list(db.session.scalars(select(Contract).where(
        Contract.previous_contract_id == contract.id, Contract.status.in_(("scheduled", "renewal_pending")))))
    for item in ending:
        if item.status == "renewal_pending":
            item.status, item.rejected_at, item.reject_reason = "rejected", at, "previous contract terminated"
            continue
        item.status, item.terminated_on, item.terminated_at = "terminated", on, at
        item.terminated_by_kind = "staff" if actor.is_staff else "resident"
        item.terminated_by_id = actor.id
        item.termination_reason, item.termination_note = data["reason"], data.get("note")
    db.session.flush()
    _log(actor, [contract.resident_id], "update")
    return contract


# --- renewal ----------------------------------------------------------------------

def _renewal_of(contract: Contract) -> Contract | None:
    return db.session.scalar(select(Contract).where(
        Contract.previous_contract_id == contract.id, Contract.status != "rejected"))


def _carried_packages(contract: Contract, resident: Resident, on: date) -> list[ServicePackage]:
    """The current versions of the packages the last period carried, where they still fit."""
    mine = populations_of(resident, on)
    carried = []
    for row in contract.packages:
        package = catalogue.current_version_of(row.package.code, on)
        if package and catalogue.is_offered_to(package, resident.institution.path) and catalogue.fits(package, mine):
            carried.append(package)
    if not any(p.kind == "basic" for p in carried):
        raise Invalid("package_ids", "the previous basic package is no longer offered: choose packages")
    return carried


def renew(actor: Actor, contract: Contract, data: dict) -> Contract:
    """Create the next period's contract, linked to this one (a family renews together).

    The team renewing (with the resident's consent) signs at once: ``scheduled`` after the
    running period, or ``active`` from today when the last period has ended. A resident
    renewing from the phone asks the team, which signs as for any application.
    """
    if actor.is_staff:
        _require_team_member(actor, contract, "renew")
    if contract.status not in ("active", "expired"):
        raise Conflict(f"a {contract.status} contract cannot be renewed", error="contract_not_renewable")
    on = today()
    if contract.status == "active" and (contract.ends_on - on).days > RENEWAL_WINDOW_DAYS:
        raise Conflict(f"renewal opens {RENEWAL_WINDOW_DAYS} days before the end of the period",
                       error="renewal_not_open")
    if _renewal_of(contract) is not None:
        raise Conflict("this contract has already been renewed", error="already_renewed")
    team = contract.team
    if not team.active:
        raise Conflict("the team no longer works; apply to another team", error="team_inactive")
    members = [contract]
    if contract.family_group_id is not None:
        visible = set(resident_ids_for_account(actor)) if not actor.is_staff else None
        for other in _group_members(contract, ("active", "expired")):
            if other.id != contract.id and _renewal_of(other) is None and other.resident.status == "active" \
                    and (visible is None or other.resident_id in visible):
                members.append(other)
    residents = [m.resident for m in members]
    if data.get("package_ids"):
        chosen = _choose_packages(data["package_ids"], residents, on)
    else:
        chosen = {m.resident_id: _carried_packages(m, m.resident, on) for m in members}
    guardians = {r.id: _guardian_for(actor, r, data.get("guardian_resident_id"), on)
                 for r in residents if _is_child(r, on)}
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
    channel = _channel(actor, data.get("channel"))
    doctor_id = (contract.doctor_id or _doctor_for(team, actor, None)) if actor.is_staff else None
    created = []
    for member in members:
        new = _new_contract(actor, member.resident, team, chosen[member.resident_id], channel=channel,
                            guardian=guardians.get(member.resident_id), group=group, previous=member,
                            status="pending" if member in over else "renewal_pending")
        if actor.is_staff:  # the renewing team member signs at once (before the first flush)
            _sign_one(new, actor, doctor_id, on, previous=member)
        created.append(new)
    _flush_or_conflict()
    if actor.is_staff:
        assign_team([c.resident_id for c in created if c.status == "active"], team.id)
    else:
        _tell_team(team, created[0], len(created))
    _log(actor, [c.resident_id for c in created], "create")
    return created[0]


# --- delivery (履约) -----------------------------------------------------------------

def _count(item_id: int) -> bool:
    """Add one delivery to an item if any is left: one conditional UPDATE (safe under concurrency)."""
    result = db.session.execute(update(ContractItem).where(
        ContractItem.id == item_id, ContractItem.delivered < ContractItem.total)
        .values(delivered=ContractItem.delivered + 1))
    return result.rowcount == 1


def _period_end(contract: Contract) -> date:
    if contract.terminated_on is not None:
        return min(contract.ends_on, contract.terminated_on)
    return contract.ends_on


def add_delivery(actor: Actor, contract: Contract, data: dict) -> tuple[ContractDelivery, ContractItem]:
    """The team records a delivered service against one of the contract's items."""
    _require_team_member(actor, contract, "record deliveries on")
    if contract.signed_at is None or contract.starts_on is None:
        raise Conflict(f"the contract is {contract.status}: nothing is delivered before signing",
                       error="contract_not_signed")
    item = db.session.scalar(select(ContractItem).where(
        ContractItem.contract_id == contract.id, ContractItem.package_item_id == data["package_item_id"]))
    if item is None:
        raise Invalid("package_item_id", "this contract carries no such package item")
    day = data["delivered_on"]
    if day > today():
        raise Invalid("delivered_on", "a delivery cannot be in the future")
    if not contract.starts_on <= day <= _period_end(contract):
        raise Invalid("delivered_on", f"outside the contract period {contract.starts_on} … {_period_end(contract)}")
    if not _count(item.id):
        raise Invalid("package_item_id", f"all {item.total} of this item have been delivered")
    delivery = ContractDelivery(contract_id=contract.id, contract_item_id=item.id, service_type=item.service_type,
                                delivered_on=day, delivered_by_id=actor.id, note=data.get("note"), source="manual")
    db.session.add(delivery)
    db.session.flush()
    db.session.refresh(item)
    _log(actor, [contract.resident_id], "update")
    return delivery, item


def record_delivery(actor: Actor | None, resident_id: int, service_type: str, delivered_on: date, *,
                    source: str, source_id=None, note: str | None = None) -> ContractDelivery | None:
    """Count a service delivered by another feature (a follow-up, a health check …).

    Finds the resident's contract in force on ``delivered_on`` and its first item of
    ``service_type`` with something left, and counts one delivery linked to
    ``source``/``source_id``. Returns the delivery, or ``None`` (silently) when there is
    no such contract or item, nothing is left, or this source was already counted.
    Runs in the caller's transaction (inside a savepoint); flushes, never commits.
    """
    source_key = None if source_id is None else str(source_id)
    if source_key is not None and db.session.scalar(select(ContractDelivery.id).where(
            ContractDelivery.source == source, ContractDelivery.source_id == source_key,
            ContractDelivery.service_type == service_type).limit(1)) is not None:
        return None
    candidates = db.session.execute(
        select(ContractItem.id, ContractItem.contract_id)
        .join(Contract, Contract.id == ContractItem.contract_id)
        .where(Contract.resident_id == resident_id, in_force_clause(delivered_on),
               ContractItem.service_type == service_type, ContractItem.delivered < ContractItem.total)
        .order_by(ContractItem.id)).all()
    for item_id, contract_id in candidates:
        try:
            with db.session.begin_nested():
                if not _count(item_id):
                    continue
                delivery = ContractDelivery(
                    contract_id=contract_id, contract_item_id=item_id, service_type=service_type,
                    delivered_on=delivered_on, delivered_by_id=actor.id if actor is not None and actor.is_staff else None,
                    note=note, source=source, source_id=source_key)
                db.session.add(delivery)
                db.session.flush()
        except IntegrityError:  # the same source counted concurrently
            return None
        return delivery
    return None


def deliveries_of(contract: Contract):
    return (select(ContractDelivery).where(ContractDelivery.contract_id == contract.id)
            .order_by(ContractDelivery.delivered_on.desc(), ContractDelivery.id.desc()))


def undelivered(actor: Actor, args: dict):
    """The team's worklist: items of running contracts with something still due."""
    stmt = (select(ContractItem, Contract, Resident)
            .join(Contract, Contract.id == ContractItem.contract_id)
            .join(Resident, Resident.id == Contract.resident_id)
            .where(contract_clause(actor), Contract.status == "active",
                   ContractItem.delivered < ContractItem.total))
    if (team_id := args.get("team_id")) is not None:
        stmt = stmt.where(Contract.team_id == team_id)
    if service_type := args.get("service_type"):
        stmt = stmt.where(ContractItem.service_type == service_type)
    if (resident_id := args.get("resident_id")) is not None:
        stmt = stmt.where(Contract.resident_id == resident_id)
    return stmt.order_by(Contract.ends_on, Contract.id, ContractItem.id)


# --- lists and views ------------------------------------------------------------------

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


def current_contract(resident_id: int) -> Contract | None:
    """The resident's running contract, else their newest open application.

    One query (the running one sorts first), with what the summary shows loaded alongside — team and
    doctor joined, packages and items in one query each — since the archive and the home screen read
    it on every open (lazy loading made that eight round trips)."""
    return db.session.scalar(
        select(Contract).where(Contract.resident_id == resident_id,
                               Contract.status.in_(("active", "pending", "scheduled", "renewal_pending")))
        .order_by(case((Contract.status == "active", 0), else_=1), Contract.id.desc()).limit(1)
        .options(joinedload(Contract.team), joinedload(Contract.doctor),
                 selectinload(Contract.packages).joinedload(ContractPackage.package), selectinload(Contract.items)))


def contract_summary(contract: Contract | None) -> dict | None:
    """A short description for the home screen and the archive."""
    if contract is None:
        return None
    renewal = _renewal_of(contract)
    return {
        "id": contract.id, "status": contract.status,
        "team": {"id": contract.team.id, "name": contract.team.name},
        "doctor": {"id": contract.doctor.id, "name": contract.doctor.name} if contract.doctor else None,
        "starts_on": contract.starts_on.isoformat() if contract.starts_on else None,
        "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
        "packages": [row.package.name for row in contract.packages],
        "items_total": sum(i.total for i in contract.items),
        "items_delivered": sum(i.delivered for i in contract.items),
        "family_group_id": contract.family_group_id,
        "renewal": {"id": renewal.id, "status": renewal.status} if renewal else None,
    }


def me_section(actor, resident, body: dict) -> None:
    """GET /me: the resident's contract (running, else the open application)."""
    body["contract"] = contract_summary(current_contract(resident.id))


def present(contract: Contract, *, detail: bool = True) -> dict:
    body = {
        "id": contract.id, "resident_id": contract.resident_id,
        "resident": {"id": contract.resident.id, "name": contract.resident.name},
        "team_id": contract.team_id,
        "team": {"id": contract.team.id, "name": contract.team.name, "institution_id": contract.team.institution_id},
        "doctor": {"id": contract.doctor.id, "name": contract.doctor.name} if contract.doctor else None,
        "status": contract.status, "channel": contract.channel, "family_group_id": contract.family_group_id,
        "previous_contract_id": contract.previous_contract_id,
        "applied_at": contract.applied_at, "signed_at": contract.signed_at,
        "starts_on": contract.starts_on, "ends_on": contract.ends_on,
        "fee": contract.fee, "public_health_subsidy": contract.public_health_subsidy,
        "consent": {"at": contract.consent_at, "channel": contract.consent_channel,
                    "by_resident_id": contract.consent_by_resident_id},
        "guardian_resident_id": contract.guardian_resident_id,
        "reject_reason": contract.reject_reason, "terminated_on": contract.terminated_on,
        "termination_reason": contract.termination_reason,
        "packages": [{"id": row.package.id, "code": row.package.code, "version": row.package.version,
                      "name": row.package.name, "kind": row.package.kind, "price": row.price}
                     for row in contract.packages],
    }
    if detail:
        body["items"] = [{"id": i.id, "package_item_id": i.package_item_id, "package_id": i.package_id,
                          "name": i.name, "service_type": i.service_type, "total": i.total,
                          "delivered": i.delivered, "remaining": i.remaining} for i in contract.items]
        renewal = _renewal_of(contract)
        body["renewal"] = {"id": renewal.id, "status": renewal.status} if renewal else None
        body["family_members"] = []
        if contract.family_group_id is not None:
            rows = db.session.execute(select(Contract.id, Contract.resident_id, Contract.status, Resident.name)
                                      .join(Resident, Resident.id == Contract.resident_id)
                                      .where(Contract.family_group_id == contract.family_group_id)
                                      .order_by(Contract.id)).all()
            body["family_members"] = [{"contract_id": r.id, "resident_id": r.resident_id, "name": r.name,
                                       "status": r.status} for r in rows]
    return body


# --- notifications ----------------------------------------------------------------------

def _recipient_of(contract: Contract):
    """A child's messages go to the guardian who signed for them."""
    return notify.resident(contract.guardian_resident_id or contract.resident_id)


def _tell_resident(contract: Contract, kind: str, dedup_key: str, payload: dict) -> None:
    notify.enqueue(_recipient_of(contract), kind, dedup_key, payload)


def _tell_team(team: Team, contract: Contract, count: int) -> None:
    leader = db.session.scalar(select(TeamMember.staff_id).where(
        TeamMember.team_id == team.id, TeamMember.role == "leader_gp").limit(1))
    if leader is None:
        return
    body = f"{count} 位居民申请签约{team.name}，请及时审核。" if count > 1 else f"有居民申请签约{team.name}，请及时审核。"
    notify.enqueue(notify.staff(leader), "contract_applied", f"contract-applied:{contract.id}",
                   {"title": "新的签约申请", "body": body, "team": team.name, "contract_id": contract.id,
                    "applied_on": today().isoformat()})


def renewal_reminder_time(on: date):
    """Reminders generated by the night job go out from 09:00 local time."""
    return max(now(), at_local(on, 9))


__all__ = ["apply", "sign", "reject", "terminate", "renew", "add_delivery", "record_delivery", "get_contract",
           "contract_clause", "in_force_clause", "current_contract", "contract_summary", "me_section",
           "assign_team", "period_from"]
