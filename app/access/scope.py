"""Deny by default: every id a caller sends is looked up through these scopes.

Staff see the residents of their institution's subtree; a district admin sees all;
a resident sees their own archive (and, once granted, family members'). Anything
outside scope is indistinguishable from something that does not exist: 404.
"""

from __future__ import annotations

from sqlalchemy import bindparam, false, or_, select, true

from app.access import family_hooks
from app.access.actors import Actor
from app.errors import NotFound
from app.extensions import db
from app.orgs.models import Institution, Team
from app.residents.models import Resident


def institution_ids_clause(actor: Actor, column):
    """A WHERE clause limiting ``column`` (an institution id) to the actor's subtree."""

    if actor.is_district_admin:
        return true()
    if not actor.is_staff:
        return false()
    subtree = select(Institution.id).where(Institution.path.startswith(actor.institution_path))
    return column.in_(subtree)


def can_see_institution(actor: Actor, institution) -> bool:
    if institution is None or not actor.is_staff:
        return False
    return actor.is_district_admin or institution.path.startswith(actor.institution_path)


def get_institution(actor: Actor, institution_id: int):

    institution = db.session.get(Institution, institution_id)
    if not can_see_institution(actor, institution):
        raise NotFound("institution not found")
    return institution


def resident_ids_for_account(actor: Actor) -> list[int]:
    """Residents a WeChat account may view: itself, plus active family grants."""
    ids = [actor.resident_id] if actor.resident_id else []

    for hook in family_hooks.GRANTED:
        ids.extend(hook(actor))
    return ids


def _resident_scope(actor: Actor) -> tuple[str, object]:
    """The one decision behind both resident clauses: ("all", None) for the district admin,
    ("subtree", path) for other staff, ("residents", ids) for a WeChat account with its own and
    granted archives, ("none", None) for an account with neither."""
    if actor.is_staff:
        return ("all", None) if actor.is_district_admin else ("subtree", actor.institution_path)
    ids = resident_ids_for_account(actor)
    return ("residents", ids) if ids else ("none", None)


def _resident_scope_clause(kind: str, value):
    """The clause of a scope ``kind`` over ``value`` (a path or ids, given or bound)."""

    if kind == "all":
        return true()
    if kind == "subtree":
        return Resident.institution_id.in_(select(Institution.id).where(Institution.path.startswith(value)))
    if kind == "residents":
        return Resident.id.in_(value)
    return false()


def resident_clause(actor: Actor):
    """A WHERE clause over ``Resident`` for what the actor may see."""
    return _resident_scope_clause(*_resident_scope(actor))


_BOUND = {"subtree": ("scope_path", False), "residents": ("scope_ids", True)}
_BOUND_CLAUSES: dict = {}


def bound_resident_scope(actor: Actor):
    """``resident_clause`` for statements built once and reused: (the scope's kind, the clause with
    its value as a bound parameter, the parameters). The same decision and the same clause; the
    hottest reads cache one statement per kind instead of building one per request."""
    kind, value = _resident_scope(actor)
    name, expanding = _BOUND.get(kind, (None, False))
    clause = _BOUND_CLAUSES.get(kind)
    if clause is None:  # once per kind: the value is a parameter
        parameter = bindparam(name, expanding=expanding) if name else None
        clause = _BOUND_CLAUSES[kind] = _resident_scope_clause(kind, parameter)
    return kind, clause, ({name: value} if name else {})


def get_resident(actor: Actor, resident_id: int):
    """The resident if the actor may see them, else 404 (never 403 with data)."""

    resident = db.session.scalar(select(Resident).where(Resident.id == resident_id, resident_clause(actor)))
    if resident is None:
        raise NotFound("resident not found")
    return resident


def managed_teams_clause(actor: Actor, column):
    """WHERE limiting a team-id ``column`` to the teams the actor runs: a team's own business
    (its worklist, slots, day list) belongs to its members, to institution admins of the
    subtree and to the district admin — not to other teams of the same centre."""

    if not actor.is_staff:
        return false()
    if actor.is_district_admin:
        return true()
    conditions = []
    if actor.team_ids:
        conditions.append(column.in_(actor.team_ids))
    if "institution_admin" in actor.roles:
        conditions.append(column.in_(select(Team.id).where(institution_ids_clause(actor, Team.institution_id))))
    return or_(*conditions) if conditions else false()


def get_managed_team(actor: Actor, team_id: int):

    team = db.session.scalar(select(Team).where(Team.id == team_id, managed_teams_clause(actor, Team.id)))
    if team is None:
        raise NotFound("team not found")
    return team


def get_team_resident(actor: Actor, resident_id: int):
    """The resident, if the actor runs their team (its members, the subtree's admins, the district
    admin) — the team's own work on a resident (a worklist entry, a referral); else 404."""
    resident = get_resident(actor, resident_id)
    team = resident.team_id and db.session.scalar(
        select(Team.id).where(Team.id == resident.team_id, managed_teams_clause(actor, Team.id))
    )
    if not team:
        raise NotFound("resident not found")
    return resident


def get_team(actor: Actor, team_id: int):

    team = db.session.get(Team, team_id)
    if team is None or not can_see_institution(actor, team.institution):
        raise NotFound("team not found")
    return team
