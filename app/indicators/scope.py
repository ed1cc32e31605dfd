"""Where an indicator is counted: an institution's subtree (its rows, its direct children), the
caller's scope, and the figures declared per institution that a subtree sums without counting
anything twice (:func:`top_most`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.access.actors import Actor
from app.access.scope import get_institution, get_team
from app.errors import NotFound
from app.extensions import db
from app.orgs.models import Institution, subtree_ids


@dataclass
class Subtree:
    root: Institution
    institutions: list[Institution]  # the root and everything under it, by code
    children: list[Institution]

    @property
    def ids(self) -> list[int]:
        return [i.id for i in self.institutions]


def load_subtree(root: Institution) -> Subtree:
    rows = list(
        db.session.scalars(
            select(Institution).where(Institution.id.in_(subtree_ids(root.path))).order_by(Institution.code)
        )
    )
    children = [r for r in rows if r.parent_id == root.id]
    return Subtree(root, rows, children)


def bucket_mapping(subtree: Subtree, *, single: bool = False) -> list[tuple[int, int]]:
    """institution id → the root (its own residents, or everything when ``single``) or the child holding it."""
    pairs = []
    for row in subtree.institutions:
        bucket = subtree.root.id
        if not single and row.id != subtree.root.id:
            bucket = next(c.id for c in subtree.children if row.is_within(c.path))
        pairs.append((row.id, bucket))
    return pairs


def resolve_scope(actor: Actor, institution_id: int | None, team_id: int | None):
    """The institution (default: the caller's) and optional team, both in the caller's scope (else 404)."""
    team = get_team(actor, team_id) if team_id is not None else None
    if institution_id is None:
        institution_id = team.institution_id if team is not None else actor.institution_id
    institution = get_institution(actor, institution_id)
    if team is not None and not team.institution.is_within(institution.path):
        raise NotFound("team not found")
    return institution, team


def top_most(institutions, root: Institution, declares: Callable[[Institution], bool]) -> list[Institution]:
    """The institutions of ``root``'s subtree that declare a figure and have no declaring ancestor in
    it: a centre's figure covers its stations, a district's total covers everything, so their sum
    counts nothing twice."""
    declared = [i for i in institutions if i.is_within(root.path) and declares(i)]
    return [i for i in declared if not any(o is not i and i.is_within(o.path) for o in declared)]


def subtree_population(root: Institution, institutions) -> int:
    """The subtree's service population (辖区服务人口数): the top-most declared figures summed."""
    return sum(i.service_population for i in top_most(institutions, root, lambda i: (i.service_population or 0) > 0))
