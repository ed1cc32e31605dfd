"""The organisation tree, teams and staff accounts — scoped to the caller's subtree."""

from __future__ import annotations

from sqlalchemy import select

from app.access.scope import get_institution, institution_ids_clause
from app.accounts.models import Staff
from app.accounts.services import hash_password, revoke_sessions_of
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.orgs.models import ALLOWED_PARENTS, INSTITUTION_KINDS, Institution, Team, TeamMember


def visible_institutions(actor) -> list[Institution]:
    stmt = select(Institution).order_by(Institution.path)
    if actor.is_staff:
        stmt = stmt.where(institution_ids_clause(actor, Institution.id))
    # Residents see the public directory of institutions (to choose a team).
    return list(db.session.scalars(stmt))


def as_tree(institutions: list[Institution]) -> list[dict]:
    nodes = {
        i.id: {
            "id": i.id,
            "code": i.code,
            "name": i.name,
            "kind": i.kind,
            "level": i.level,
            "parent_id": i.parent_id,
            "service_population": i.service_population,
            "children": [],
        }
        for i in institutions
    }
    roots = []
    for i in institutions:  # ordered by path: parents come first
        parent = nodes.get(i.parent_id)
        (parent["children"] if parent else roots).append(nodes[i.id])
    return roots


def create_institution(data: dict) -> Institution:
    parent = None
    if data["parent_id"] is not None:
        parent = db.session.get(Institution, data["parent_id"])
        if parent is None:
            raise Invalid("parent_id", "no such institution")
    if (parent.kind if parent else None) not in ALLOWED_PARENTS[data["kind"]]:
        raise Invalid("parent_id", f"a {data['kind']} cannot sit under {parent.kind if parent else 'nothing'}")
    if db.session.scalar(select(Institution.id).where(Institution.code == data["code"])):
        raise Conflict("an institution with this code exists", error="duplicate_code")
    institution = Institution(
        code=data["code"],
        name=data["name"],
        kind=data["kind"],
        level=INSTITUTION_KINDS[data["kind"]],
        parent_id=parent.id if parent else None,
        path="",
        service_population=data["service_population"],
    )
    db.session.add(institution)
    db.session.flush()
    institution.path = f"{parent.path if parent else '/'}{institution.id}/"
    return institution


def _check_admin_of(actor, institution_id: int, field: str) -> Institution:
    try:
        return get_institution(actor, institution_id)
    except NotFound:
        raise Invalid(field, "no such institution in your scope") from None


def team_payload(team: Team) -> dict:
    members = [{"staff_id": m.staff_id, "name": m.staff.name, "role": m.role} for m in team.members]
    leader = next((m for m in members if m["role"] == "leader_gp"), None)
    return {
        "id": team.id,
        "name": team.name,
        "institution_id": team.institution_id,
        "leader": leader,
        "members": members,
    }


def list_teams(actor, institution_id: int | None) -> list[Team]:
    stmt = select(Team).where(Team.active).order_by(Team.id)
    if institution_id is not None:
        institution = (
            get_institution(actor, institution_id) if actor.is_staff else db.session.get(Institution, institution_id)
        )
        if institution is None:
            raise NotFound("institution not found")
        stmt = stmt.where(Team.institution_id == institution.id)
    elif actor.is_staff:
        stmt = stmt.where(institution_ids_clause(actor, Team.institution_id))
    return list(db.session.scalars(stmt))


def create_team(actor, data: dict) -> Team:
    institution = _check_admin_of(actor, data["institution_id"], "institution_id")
    if institution.level < 3:
        raise Invalid("institution_id", "family-doctor teams belong to health centres or their clinics")
    roles = [m["role"] for m in data["members"]]
    if roles.count("leader_gp") != 1:
        raise Invalid("members", "a team has exactly one leader_gp (its general practitioner)")
    staff_ids = [m["staff_id"] for m in data["members"]]
    if len(set(staff_ids)) != len(staff_ids):
        raise Invalid("members", "a staff member appears twice")
    staff = {s.id: s for s in db.session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))}
    for sid in staff_ids:
        member = staff.get(sid)
        if member is None or not member.active or not _within(member.institution, institution):
            raise Invalid("members", f"staff {sid} is not an active member of this institution's tree")
    if db.session.scalar(select(Team.id).where(Team.institution_id == institution.id, Team.name == data["name"])):
        raise Conflict("a team with this name exists in this institution", error="duplicate_team")
    team = Team(
        name=data["name"],
        institution_id=institution.id,
        members=[TeamMember(staff_id=m["staff_id"], role=m["role"]) for m in data["members"]],
    )
    db.session.add(team)
    db.session.flush()
    return team


def _within(inner: Institution, outer: Institution) -> bool:
    return inner.path.startswith(outer.path) or outer.path.startswith(inner.path)


def create_staff(actor, data: dict) -> Staff:
    _check_admin_of(actor, data["institution_id"], "institution_id")
    if "district_admin" in data["roles"] and not actor.is_district_admin:
        raise Forbidden("only a district admin may create district admins")
    if db.session.scalar(select(Staff.id).where(Staff.username == data["username"])):
        raise Conflict("this username is taken", error="duplicate_username")
    staff = Staff(
        username=data["username"],
        name=data["name"],
        roles=sorted(set(data["roles"])),
        institution_id=data["institution_id"],
        phone=data.get("phone"),
        password_hash=hash_password(data["password"]),
    )
    db.session.add(staff)
    db.session.flush()
    return staff


def get_staff(actor, staff_id: int) -> Staff:
    """A staff account in the actor's subtree; outside it reads exactly like a missing one (404)."""
    staff = db.session.get(Staff, staff_id)
    try:
        if staff is None:
            raise NotFound()
        get_institution(actor, staff.institution_id)
    except NotFound:
        raise NotFound("staff not found") from None
    return staff


def list_staff(actor, institution_id: int | None) -> list[Staff]:
    stmt = select(Staff).where(institution_ids_clause(actor, Staff.institution_id)).order_by(Staff.id)
    if institution_id is not None:
        stmt = stmt.where(Staff.institution_id == get_institution(actor, institution_id).id)
    return list(db.session.scalars(stmt))


# Roles that give power over other accounts. Clinical roles (doctor, team_leader) do not: an
# institution admin manages its doctors without being one.
ADMIN_ROLES = ("institution_admin", "district_admin")


def _roles_beyond(actor, roles) -> list[str]:
    """The administrative roles in ``roles`` the actor does not hold (a district admin holds all)."""
    if actor.is_district_admin:
        return []
    return sorted(r for r in set(roles or ()) if r in ADMIN_ROLES and r not in actor.roles)


def update_staff(actor, staff: Staff, data: dict) -> Staff:
    """Rename, change the roles of, or (de)activate an account of the actor's subtree.

    An account holding a role the actor lacks (a district admin placed in a centre, seen by that
    centre's admin) is visible to the actor, so refusing it is a 403 naming why, not a 404.
    Ending or changing an account's powers ends its sessions: a token keeps working only with
    the roles and the active state it was issued under (a new login picks up the new ones).
    """
    beyond = _roles_beyond(actor, staff.roles)
    if beyond:
        raise Forbidden(f"this account holds roles you do not: {', '.join(beyond)}")
    if "district_admin" in data.get("roles", []) and not actor.is_district_admin:
        raise Forbidden("only a district admin may grant district_admin")
    if staff.id == actor.id and data.get("active") is False:
        raise Invalid("active", "you cannot deactivate yourself")
    roles_changed = "roles" in data and sorted(set(data["roles"])) != sorted(staff.roles or [])
    active_changed = "active" in data and data["active"] != staff.active
    for field in ("roles", "active", "name"):
        if field in data:
            setattr(staff, field, sorted(set(data[field])) if field == "roles" else data[field])
    if roles_changed or active_changed:
        # Also on re-activation: an account disabled before sessions were revoked on
        # deactivation must not get its old tokens back either.
        revoke_sessions_of("staff", staff.id)
    return staff
