"""Deny by default: every id a caller sends is looked up through these scopes.

Staff see the residents of their institution's subtree; a district admin sees all;
a resident sees their own archive (and, once granted, family members'). Anything
outside scope is indistinguishable from something that does not exist: 404.
"""

from __future__ import annotations

from sqlalchemy import bindparam, false, or_, select, true

from app.access.actors import Actor
from app.errors import NotFound
from app.extensions import db


def institution_ids_clause(actor: Actor, column):
    """A WHERE clause limiting ``column`` (an institution id) to the actor's subtree."""
    from app.orgs.models import Institution

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
    from app.orgs.models import Institution

    institution = db.session.get(Institution, institution_id)
    if not can_see_institution(actor, institution):
        raise NotFound("institution not found")
    return institution


def resident_ids_for_account(actor: Actor) -> list[int]:
    """Residents a WeChat account may view: itself, plus active family grants."""
    ids = [actor.resident_id] if actor.resident_id else []
    from app.access import family_hooks

    for hook in family_hooks.GRANTED:
        ids.extend(hook(actor))
    return ids


def resident_clause(actor: Actor):
    """A WHERE clause over ``Resident`` for what the actor may see."""
    from app.residents.models import Resident

    if actor.is_staff:
        return institution_ids_clause(actor, Resident.institution_id)
    ids = resident_ids_for_account(actor)
    return Resident.id.in_(ids) if ids else false()


def bound_resident_scope(actor: Actor):
    """``resident_clause`` for statements built once and reused: (a key naming the clause's shape, the
    clause with bound parameters, their values). Same rule, same answers; the hottest reads cache one
    statement per key instead of building one per request."""
    from app.orgs.models import Institution
    from app.residents.models import Resident

    if actor.is_staff and actor.is_district_admin:
        return "all", true(), {}
    if actor.is_staff:
        subtree = select(Institution.id).where(Institution.path.startswith(bindparam("scope_path")))
        return "subtree", Resident.institution_id.in_(subtree), {"scope_path": actor.institution_path}
    ids = resident_ids_for_account(actor)
    if not ids:
        return "none", false(), {}
    return "residents", Resident.id.in_(bindparam("scope_ids", expanding=True)), {"scope_ids": ids}


def get_resident(actor: Actor, resident_id: int):
    """The resident if the actor may see them, else 404 (never 403 with data)."""
    from app.residents.models import Resident

    resident = db.session.scalar(select(Resident).where(Resident.id == resident_id, resident_clause(actor)))
    if resident is None:
        raise NotFound("resident not found")
    return resident


def managed_teams_clause(actor: Actor, column):
    """WHERE limiting a team-id ``column`` to the teams the actor runs: a team's own business
    (its worklist, slots, day list) belongs to its members, to institution admins of the
    subtree and to the district admin — not to other teams of the same centre."""
    from app.orgs.models import Team

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
    from app.orgs.models import Team

    team = db.session.scalar(select(Team).where(Team.id == team_id, managed_teams_clause(actor, Team.id)))
    if team is None:
        raise NotFound("team not found")
    return team


def get_team(actor: Actor, team_id: int):
    from app.orgs.models import Team

    team = db.session.get(Team, team_id)
    if team is None or not can_see_institution(actor, team.institution):
        raise NotFound("team not found")
    return team
