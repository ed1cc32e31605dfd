"""Who may apply for whom, with which team and which packages: the checks an application or a
renewal passes before any contract is written (each failure a 422 naming the field)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.access.actors import Actor
from app.access.scope import get_resident
from app.common.time import age_on
from app.contracts import packages as catalogue
from app.contracts.models import RESIDENT_CHANNELS, STAFF_CHANNELS, Contract, ServicePackage
from app.errors import Invalid, NotFound
from app.extensions import db
from app.orgs.models import Team
from app.residents.models import Resident
from app.residents.populations import populations_of

GUARDIAN_AGE = 14  # PIPL art. 31: under 14, a guardian consents
ADULT_AGE = 18
MAX_FAMILY = 10


# --- who signs for whom ------------------------------------------------------------


def is_child(resident: Resident, on: date) -> bool:
    return age_on(resident.birth_on, on) < GUARDIAN_AGE


def _check_guardian(guardian: Resident | None, child: Resident, on: date, field: str) -> Resident:
    if (
        guardian is None
        or guardian.id == child.id
        or age_on(guardian.birth_on, on) < ADULT_AGE
        or child.household_id is None
        or guardian.household_id != child.household_id
    ):
        raise Invalid(
            field, "a child under 14 is signed by a guardian: an adult of the same household", error="guardian_required"
        )
    return guardian


def guardian_for(actor: Actor, child: Resident, guardian_id: int | None, on: date) -> Resident:
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
            raise Invalid("guardian_resident_id", "required when signing a child under 14", error="guardian_required")
        return _check_guardian(guardian, child, on, "guardian_resident_id")
    try:
        guardian = get_resident(actor, guardian_id)
    except NotFound:
        raise Invalid("guardian_resident_id", "no such resident in your scope") from None
    return _check_guardian(guardian, child, on, "guardian_resident_id")


def _inherited_guardian(child: Resident) -> Resident | None:
    """For a renewal in clinic: the guardian of the child's previous contract."""
    gid = db.session.scalar(
        select(Contract.guardian_resident_id)
        .where(Contract.resident_id == child.id, Contract.guardian_resident_id.is_not(None))
        .order_by(Contract.id.desc())
        .limit(1)
    )
    return db.session.get(Resident, gid) if gid else None


# --- team, packages, residents, channel ---------------------------------------------


def team_for(actor: Actor, team_id: int, residents: list[Resident]) -> Team:
    team = db.session.get(Team, team_id)
    if team is None or not team.active:
        raise Invalid("team_id", "no such active team")
    if actor.is_staff:
        admin = actor.is_district_admin or (
            "institution_admin" in actor.roles and team.institution.is_within(actor.institution_path)
        )
        if team.id not in actor.team_ids and not admin:
            raise Invalid("team_id", "staff apply for residents of their own team")
    for resident in residents:
        here, there = resident.institution, team.institution
        if not (here.is_within(there.path) or there.is_within(here.path)):
            raise Invalid("team_id", "this team does not serve the resident's institution")
    return team


def choose_packages(package_ids: list[int], residents: list[Resident], on: date) -> dict[int, list[ServicePackage]]:
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


def carried_packages(contract: Contract, resident: Resident, on: date) -> list[ServicePackage]:
    """For a renewal: the current versions of the packages the last period carried, where they still fit."""
    mine = populations_of(resident, on)
    carried = []
    for row in contract.packages:
        package = catalogue.current_version_of(row.package.code, on)
        if package and catalogue.is_offered_to(package, resident.institution.path) and catalogue.fits(package, mine):
            carried.append(package)
    if not any(p.kind == "basic" for p in carried):
        raise Invalid("package_ids", "the previous basic package is no longer offered: choose packages")
    return carried


def channel_for(actor: Actor, requested: str | None) -> str:
    allowed = STAFF_CHANNELS if actor.is_staff else RESIDENT_CHANNELS
    channel = requested or allowed[0]
    if channel not in allowed:
        raise Invalid("channel", "one of: " + ", ".join(allowed))
    return channel


def residents_for(actor: Actor, resident_ids: list[int]) -> list[Resident]:
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
