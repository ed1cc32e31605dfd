"""GET /indicators/{key}/residents: who is counted in an indicator's numerator, or in its base but not
its numerator (whom to act on). The same clauses as the counts (their plain ``IN (subquery)`` form)
in a WHERE, in the caller's scope, a page at a time; so the lists agree with the counts by
construction. For a day the latest facts build holds (today), the residents are read from the
build's flags plus the changed residents evaluated live (:func:`app.indicators.facts.members`),
as the counts are."""

from __future__ import annotations

from sqlalchemy import select

from app.access.actors import Actor
from app.access.scope import resident_clause
from app.audit import services as audit
from app.common.ids import mask_id_number, mask_phone, vault
from app.common.pagination import paginate_in_one
from app.common.time import age_on
from app.errors import Invalid, NotFound
from app.indicators import facts
from app.indicators.catalogue import BY_KEY
from app.indicators.engine import Context, Definition, requested
from app.indicators.scope import resolve_scope
from app.indicators.tuning import tune_session
from app.orgs.models import subtree_ids
from app.residents.models import Resident


def drilldown_statement(definition: Definition, ctx: Context, part: str):
    if part == "numerator":
        return definition.numerator_clause(ctx)
    if not definition.lists_missing:
        raise Invalid(
            "part",
            f"{definition.key} counts every resident of its base: there is no 'missing' list "
            "(its denominator is not a list of residents)",
        )
    return definition.missing_clause(ctx)


def residents_page(
    actor: Actor,
    key: str,
    *,
    institution_id=None,
    team_id=None,
    year=None,
    as_of=None,
    part: str = "numerator",
    page: int = 1,
    per_page: int = 20,
) -> dict:
    """The residents counted in an indicator's numerator (``part=numerator``) or in its base but not
    its numerator (``part=missing``: whom to act on), for the institution's subtree (or a team), in
    the caller's scope; each read is written to those residents' access logs (purpose statistics)."""
    definition = BY_KEY.get(key)
    if definition is None:
        raise NotFound("indicator not found")
    institution, team = resolve_scope(actor, institution_id, team_id)
    ctx = requested(year, as_of)
    clause = drilldown_statement(definition, ctx, part)
    served = facts.members(definition, ctx, part)

    def read(clause, few_residents=False):
        tune_session(few_residents=few_residents)
        stmt = select(Resident).where(clause, resident_clause(actor))
        if team is not None:
            stmt = stmt.where(Resident.team_id == team.id)
        if institution.parent_id is not None:
            stmt = stmt.where(Resident.institution_id.in_(subtree_ids(institution.path)))
        return paginate_in_one(stmt.order_by(Resident.id), page, per_page)

    if served is not None:
        residents, total = read(Resident.id.in_(served[0]), few_residents=True)
        if facts.latest_build_id() != served[1]:  # a build committed while we read: read in full
            served = None
    if served is None:
        residents, total = read(clause)
    audit.record_many(actor, [r.id for r in residents], action="read", section="indicators", purpose="statistics")
    keys = vault()
    items = [
        {
            "id": r.id,
            "archive_no": r.archive_no,
            "name": r.name,
            "sex": r.sex,
            "age": age_on(r.birth_on, ctx.as_of),
            "id_number": mask_id_number(keys.decrypt(r.id_number_enc)),
            "phone": mask_phone(r.phone),
            "institution_id": r.institution_id,
            "team_id": r.team_id,
        }
        for r in residents
    ]
    return {
        "indicator": definition.key,
        "label": definition.label,
        "part": part,
        "institution_id": institution.id,
        "team_id": team.id if team else None,
        "year": ctx.year,
        "as_of": ctx.as_of,
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
    }
