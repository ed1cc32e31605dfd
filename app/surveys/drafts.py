"""Writing a questionnaire: create a draft, replace it wholesale, delete it. A published survey is
frozen (409)."""

from __future__ import annotations

import logging

from sqlalchemy import update

from app.access.actors import Actor
from app.access.scope import get_institution
from app.common.time import now
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.orgs.models import Institution
from app.surveys.models import SCALE_VALUES, Survey, SurveyOption, SurveyQuestion

log = logging.getLogger(__name__)


def _owner_institution(actor: Actor, institution_id: int) -> Institution:
    try:
        return get_institution(actor, institution_id)
    except NotFound:
        raise Invalid("institution_id", "no such institution in your scope") from None


def _build_questions(questions: list[dict]) -> list[SurveyQuestion]:
    built = []
    for position, q in enumerate(questions, start=1):
        question = SurveyQuestion(
            position=position, text=q["text"].strip(), type=q["type"], required=q.get("required", True)
        )
        options = q.get("options") or []
        if q["type"] == "scale":
            if options:
                question.options = [
                    SurveyOption(position=v, label=o["label"].strip(), positive=bool(o["positive"]), value=v)
                    for v, o in zip(SCALE_VALUES, options, strict=False)
                ]
            else:  # default labels; 4 and 5 count as positive
                question.options = [
                    SurveyOption(position=v, label=str(v), positive=v >= 4, value=v) for v in SCALE_VALUES
                ]
        else:
            question.options = [
                SurveyOption(position=i, label=o["label"].strip(), positive=bool(o["positive"]))
                for i, o in enumerate(options, start=1)
            ]
        built.append(question)
    return built


def _apply(survey: Survey, institution: Institution, data: dict) -> None:
    survey.kind, survey.title = data["kind"], data["title"].strip()
    survey.introduction = data.get("introduction")
    survey.institution_id, survey.institution = institution.id, institution
    survey.populations = list(data.get("populations") or [])
    survey.population_match = data.get("population_match", "any")
    survey.opens_on, survey.closes_on = data["opens_on"], data["closes_on"]
    survey.positive_threshold_permille = round(data.get("positive_threshold", 0.8) * 1000)


def create(actor: Actor, data: dict) -> Survey:
    """A draft questionnaire owned by an institution of the admin's subtree."""
    institution = _owner_institution(actor, data["institution_id"])
    survey = Survey(status="draft", created_by_id=actor.id)
    _apply(survey, institution, data)
    survey.questions = _build_questions(data["questions"])
    db.session.add(survey)
    db.session.flush()
    log.info("survey %s created by staff %s", survey.id, actor.id)
    return survey


def _lock_draft(survey: Survey) -> None:
    """Claim the row as a draft (a row lock on PostgreSQL); published → 409."""
    claimed = db.session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.status == "draft")
        .values(updated_at=now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict("a published survey is frozen: its questions cannot change", error="survey_published")


def update_draft(actor: Actor, survey: Survey, data: dict) -> Survey:
    """Replace a draft wholesale (new question and option ids)."""
    institution = _owner_institution(actor, data["institution_id"])
    _lock_draft(survey)
    _apply(survey, institution, data)
    survey.questions.clear()
    db.session.flush()  # old questions go before new ones take their positions
    survey.questions = _build_questions(data["questions"])
    db.session.flush()
    db.session.refresh(survey)
    return survey


def delete_draft(actor: Actor, survey: Survey) -> None:
    _lock_draft(survey)
    db.session.delete(survey)
    db.session.flush()
