"""Who sees and who may change which survey (deny by default; out of scope reads as 404).

- **create / edit / delete a draft / publish**: an institution admin for a survey owned by an
  institution of their subtree, or the district admin. Seeing a survey you may not change
  (e.g. the district's survey, from a centre) gives 403 on these acts.
- **see a survey**: admins see the surveys owned in their subtree (drafts included) and the
  published surveys whose target covers their institution (the district's, their centre's);
  other staff see published surveys that overlap their institution; a resident account sees a
  published survey to which it, or a family member it may act for, was invited.
- **answer** (``surveys.answers``): the invited resident, or an account answering for an invited
  family member it may act for.
- **results** (``surveys.results``): institution and district admins only.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, false, or_, select, true

from app.access.actors import Actor
from app.access.scope import resident_ids_for_account
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.orgs.models import subtree_ids
from app.surveys.models import Survey, SurveyInvitation


def _is_admin(actor: Actor) -> bool:
    return actor.is_staff and (actor.is_district_admin or "institution_admin" in actor.roles)


def owns(actor: Actor, survey: Survey) -> bool:
    """May change this survey: an admin of the owning institution's subtree."""
    return _is_admin(actor) and (actor.is_district_admin or survey.institution.is_within(actor.institution_path))


def _ancestor_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def staff_survey_clause(actor: Actor):
    """WHERE over ``Survey`` for what a staff member may see (see the module docstring)."""
    if not actor.is_staff:
        return false()
    if actor.is_district_admin:
        return true()
    within = Survey.institution_id.in_(subtree_ids(actor.institution_path))
    covering = Survey.institution_id.in_(_ancestor_ids(actor.institution_path))
    published = Survey.status == "published"
    if _is_admin(actor):
        return or_(within, and_(published, covering))
    return and_(published, or_(within, covering))


def get_survey_for_staff(actor: Actor, survey_id: int) -> Survey:
    survey = db.session.scalar(select(Survey).where(Survey.id == survey_id, staff_survey_clause(actor)))
    if survey is None:
        raise NotFound("survey not found")
    return survey


def get_survey_for_resident(actor: Actor, survey_id: int) -> Survey:
    ids = resident_ids_for_account(actor)
    survey = None
    if ids:
        survey = db.session.scalar(
            select(Survey).where(
                Survey.id == survey_id,
                Survey.status == "published",
                exists(
                    select(SurveyInvitation.id).where(
                        SurveyInvitation.survey_id == Survey.id, SurveyInvitation.resident_id.in_(ids)
                    )
                ),
            )
        )
    if survey is None:
        raise NotFound("survey not found")
    return survey


def get_survey(actor: Actor, survey_id: int) -> Survey:
    if actor.is_staff:
        return get_survey_for_staff(actor, survey_id)
    return get_survey_for_resident(actor, survey_id)


def get_owned_survey(actor: Actor, survey_id: int) -> Survey:
    survey = get_survey_for_staff(actor, survey_id)
    if not owns(actor, survey):
        raise Forbidden("only an admin of the owning institution may change this survey")
    return survey
