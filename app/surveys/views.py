"""Presenting surveys: to staff (with counts and which answers are positive), to residents (with
who in the family may answer and whether they have), and the lists of each."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, exists, func, select

from app.access.actors import Actor
from app.access.scope import resident_ids_for_account
from app.common.pagination import paginate
from app.common.time import today
from app.extensions import db
from app.residents.models import Resident
from app.surveys.models import Survey, SurveyInvitation, SurveyResponse
from app.surveys.rules import rule_text
from app.surveys.schemas import TEXT_MAX
from app.surveys.scope import staff_survey_clause


def _present_questions(survey: Survey, staff: bool) -> list[dict]:
    out = []
    for q in survey.questions:
        item = {
            "id": q.id,
            "position": q.position,
            "text": q.text,
            "type": q.type,
            "required": q.required,
            "options": [
                {
                    "id": o.id,
                    "position": o.position,
                    "label": o.label,
                    "value": o.value,
                    **({"positive": o.positive} if staff else {}),
                }
                for o in q.options
            ],
        }
        if staff:
            item["scored"] = q.scored
        if q.type == "text":
            item["max_length"] = TEXT_MAX
        out.append(item)
    return out


def counts_for(survey_ids: list[int]) -> dict[int, tuple[int, int]]:
    """survey id → (invited, responses), two grouped queries."""
    if not survey_ids:
        return {}
    invited = dict(
        db.session.execute(
            select(SurveyInvitation.survey_id, func.count())
            .where(SurveyInvitation.survey_id.in_(survey_ids))
            .group_by(SurveyInvitation.survey_id)
        ).all()
    )
    answered = dict(
        db.session.execute(
            select(SurveyResponse.survey_id, func.count())
            .where(SurveyResponse.survey_id.in_(survey_ids))
            .group_by(SurveyResponse.survey_id)
        ).all()
    )
    return {sid: (invited.get(sid, 0), answered.get(sid, 0)) for sid in survey_ids}


def _header(survey: Survey) -> dict:
    """What staff and residents alike are shown of a survey."""
    return {
        "id": survey.id,
        "kind": survey.kind,
        "title": survey.title,
        "introduction": survey.introduction,
        "institution_id": survey.institution_id,
        "institution_name": survey.institution.name,
        "opens_on": survey.opens_on,
        "closes_on": survey.closes_on,
        "status": survey.status,
        "state": survey.state_on(today()),
    }


def present_for_staff(survey: Survey, counts: tuple[int, int] | None = None, *, questions: bool = True) -> dict:
    invited, responses = counts if counts is not None else counts_for([survey.id])[survey.id]
    body = {
        **_header(survey),
        "populations": list(survey.populations or []),
        "population_match": survey.population_match,
        "positive_threshold": survey.positive_threshold,
        "rule": rule_text(survey),
        "created_by_id": survey.created_by_id,
        "created_at": survey.created_at,
        "updated_at": survey.updated_at,
        "published_at": survey.published_at,
        "invited": invited,
        "responses": responses,
    }
    if questions:
        body["questions"] = _present_questions(survey, staff=True)
    return body


def _respondents(actor: Actor, survey_ids: list[int]) -> dict[int, list[dict]]:
    """survey id → the account's invited people (self first) and whether each has answered."""
    ids = resident_ids_for_account(actor)
    if not ids or not survey_ids:
        return {}
    rows = db.session.execute(
        select(SurveyInvitation.survey_id, Resident.id, Resident.name, SurveyResponse.id)
        .join(Resident, Resident.id == SurveyInvitation.resident_id)
        .outerjoin(
            SurveyResponse,
            and_(
                SurveyResponse.survey_id == SurveyInvitation.survey_id,
                SurveyResponse.resident_id == SurveyInvitation.resident_id,
            ),
        )
        .where(SurveyInvitation.survey_id.in_(survey_ids), SurveyInvitation.resident_id.in_(ids))
    ).all()
    found: dict[int, list[dict]] = {}
    for survey_id, resident_id, name, response_id in rows:
        found.setdefault(survey_id, []).append(
            {
                "resident_id": resident_id,
                "name": name,
                "relation": "self" if resident_id == actor.resident_id else "family",
                "answered": response_id is not None,
            }
        )
    for people in found.values():
        people.sort(key=lambda p: (p["relation"] != "self", p["resident_id"]))
    return found


def present_for_resident(
    actor: Actor, survey: Survey, respondents: list[dict] | None = None, *, questions: bool = True
) -> dict:
    if respondents is None:
        respondents = _respondents(actor, [survey.id]).get(survey.id, [])
    mine = next((p for p in respondents if p["relation"] == "self"), None)
    body = {
        **_header(survey),
        "respondents": respondents,
        "answered": bool(mine and mine["answered"]),
    }
    if questions:
        body["questions"] = _present_questions(survey, staff=False)
    return body


def present(actor: Actor, survey: Survey) -> dict:
    return present_for_staff(survey) if actor.is_staff else present_for_resident(actor, survey)


# --- lists --------------------------------------------------------------------------------


def _state_clause(state: str, day: date):
    if state == "draft":
        return Survey.status == "draft"
    published = Survey.status == "published"
    if state == "scheduled":
        return and_(published, Survey.opens_on > day)
    if state == "open":
        return and_(published, Survey.opens_on <= day, Survey.closes_on >= day)
    return and_(published, Survey.closes_on < day)


def list_for_staff(actor: Actor, args: dict) -> tuple[list[dict], int]:
    stmt = select(Survey).where(staff_survey_clause(actor))
    if args.get("status"):
        stmt = stmt.where(Survey.status == args["status"])
    if args.get("kind"):
        stmt = stmt.where(Survey.kind == args["kind"])
    if args.get("state"):
        stmt = stmt.where(_state_clause(args["state"], today()))
    rows, total = paginate(stmt.order_by(Survey.opens_on.desc(), Survey.id.desc()), args["page"], args["per_page"])
    counts = counts_for([s.id for s in rows])
    return [present_for_staff(s, counts[s.id], questions=False) for s in rows], total


def my_open_surveys(actor: Actor, page: int, per_page: int) -> tuple[list[dict], int]:
    """Open surveys to which the account (or a family member it acts for) was invited."""
    ids = resident_ids_for_account(actor)
    if not ids:
        return [], 0
    day = today()
    stmt = (
        select(Survey)
        .where(
            Survey.status == "published",
            Survey.opens_on <= day,
            Survey.closes_on >= day,
            exists(
                select(SurveyInvitation.id).where(
                    SurveyInvitation.survey_id == Survey.id, SurveyInvitation.resident_id.in_(ids)
                )
            ),
        )
        .order_by(Survey.closes_on, Survey.id)
    )
    rows, total = paginate(stmt, page, per_page)
    people = _respondents(actor, [s.id for s in rows])
    return [present_for_resident(actor, s, people.get(s.id, []), questions=False) for s in rows], total
