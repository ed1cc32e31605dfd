"""Answering a survey from the phone.

- **who**: the invited resident, or an account answering for an invited family member it may act
  for (``access.scope.resident_ids_for_account``) — stored with ``proxy`` and the account
  holder's archive, and written to the subject's access log.
- **rules**: one response per resident and survey (a unique constraint decides two concurrent
  submissions: one 201, one 409); the survey must be open today (Asia/Shanghai dates,
  ``closes_on`` inclusive): not yet open or closed → 409; every required question answered,
  options belonging to their question, a scale value 1–5, free text at most ``TEXT_MAX``
  characters → otherwise 422 with ``errors["answers.<question_id>"]`` naming each offending
  question.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import resident_ids_for_account
from app.audit import services as audit
from app.common.time import now, today
from app.errors import AppError, Conflict, Forbidden, Invalid
from app.extensions import db
from app.residents.models import Resident
from app.surveys.models import (
    SCALE_VALUES,
    Survey,
    SurveyAnswer,
    SurveyAnswerOption,
    SurveyInvitation,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
)
from app.surveys.schemas import TEXT_MAX
from app.surveys.scope import get_survey_for_resident

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # kept out of stored free text


@dataclasses.dataclass
class _Checked:
    question: SurveyQuestion
    options: list[SurveyOption]
    value: int | None = None
    text: str | None = None

    @property
    def positive(self) -> bool | None:
        if not self.question.scored:
            return None
        return bool(self.options) and all(o.positive for o in self.options)


def check_answers(survey: Survey, answers: list[dict]) -> list[_Checked]:
    """Validate a whole answer sheet; every problem at once, keyed ``answers.<question_id>``."""
    questions = {q.id: q for q in survey.questions}
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    checked: list[_Checked] = []

    def fail(qid, reason):
        errors.setdefault(f"answers.{qid}", []).append(reason)

    for answer in answers:
        qid = answer["question_id"]
        question = questions.get(qid)
        if question is None:
            fail(qid, "no such question in this survey")
            continue
        if qid in seen:
            fail(qid, "answered twice")
            continue
        seen.add(qid)
        option_ids, value, text = answer.get("option_ids"), answer.get("value"), answer.get("text")
        if question.type in ("single", "multi"):
            if value is not None or text is not None:
                fail(qid, "a choice question is answered with option_ids only")
                continue
            if not option_ids:
                continue  # unanswered: required questions are reported below
            valid = {o.id: o for o in question.options}
            wrong = [i for i in option_ids if i not in valid]
            if wrong:
                fail(qid, "not an option of this question: " + ", ".join(str(i) for i in wrong))
                continue
            if len(set(option_ids)) != len(option_ids):
                fail(qid, "an option is chosen twice")
                continue
            if question.type == "single" and len(option_ids) != 1:
                fail(qid, "choose exactly one option")
                continue
            checked.append(_Checked(question, [valid[i] for i in option_ids]))
        elif question.type == "scale":
            if option_ids or text is not None:
                fail(qid, f"a scale question is answered with value ({SCALE_VALUES[0]}–{SCALE_VALUES[-1]}) only")
                continue
            if value is None:
                continue
            if value not in SCALE_VALUES:
                fail(qid, f"value must be between {SCALE_VALUES[0]} and {SCALE_VALUES[-1]}")
                continue
            option = next(o for o in question.options if o.value == value)
            checked.append(_Checked(question, [option], value=value))
        else:
            if option_ids or value is not None:
                fail(qid, "a free-text question is answered with text only")
                continue
            cleaned = _CONTROL.sub("", text or "").strip()
            if not cleaned:
                continue
            if len(cleaned) > TEXT_MAX:
                fail(qid, f"at most {TEXT_MAX} characters")
                continue
            checked.append(_Checked(question, [], text=cleaned))
    answered = {c.question.id for c in checked}
    for question in survey.questions:
        if question.required and question.id not in answered and f"answers.{question.id}" not in errors:
            fail(question.id, "required")
    if errors:
        raise AppError(
            "the answers have problems: " + ", ".join(sorted(errors)),
            status=422,
            error="validation_error",
            errors=errors,
        )
    return checked


def _subject(actor: Actor, on_behalf_of: int | None) -> int:
    if actor.resident_id is None:
        raise Conflict("bind your own archive first", error="account_not_bound")
    if on_behalf_of is None or on_behalf_of == actor.resident_id:
        return actor.resident_id
    if on_behalf_of not in resident_ids_for_account(actor):
        raise Invalid("on_behalf_of", "not a family member this account may act for")
    return on_behalf_of


def respond(actor: Actor, survey_id: int, data: dict) -> SurveyResponse:
    """One resident's answers (their own, or a family member's on their behalf)."""
    survey = get_survey_for_resident(actor, survey_id)
    state = survey.state_on(today())
    if state == "scheduled":
        raise Conflict(f"the survey opens on {survey.opens_on.isoformat()}", error="survey_not_open")
    if state == "closed":
        raise Conflict(f"the survey closed on {survey.closes_on.isoformat()}", error="survey_closed")
    subject = _subject(actor, data.get("on_behalf_of"))
    invited = db.session.scalar(
        select(SurveyInvitation.id).where(
            SurveyInvitation.survey_id == survey.id, SurveyInvitation.resident_id == subject
        )
    )
    if invited is None:
        raise Forbidden("this resident was not invited to this survey", error="not_invited")
    if db.session.scalar(
        select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id, SurveyResponse.resident_id == subject)
    ):
        raise Conflict("this survey has already been answered for this resident", error="already_answered")
    checked = check_answers(survey, data["answers"])
    proxy = subject != actor.resident_id
    response = SurveyResponse(
        survey_id=survey.id,
        resident_id=subject,
        account_id=actor.id,
        submitted_by_resident_id=actor.resident_id,
        proxy=proxy,
        scored_count=sum(c.positive is not None for c in checked),
        positive_count=sum(c.positive is True for c in checked),
        submitted_at=now(),
    )
    db.session.add(response)
    try:
        db.session.flush()  # the unique constraint decides between concurrent submissions
    except IntegrityError:
        db.session.rollback()
        raise Conflict("this survey has already been answered for this resident", error="already_answered") from None
    db.session.add_all(
        SurveyAnswer(
            response_id=response.id,
            question_id=c.question.id,
            value=c.value,
            text=c.text,
            positive=c.positive,
            options=[SurveyAnswerOption(option_id=o.id) for o in c.options],
        )
        for c in checked
    )
    db.session.flush()
    if proxy:  # the subject can see in their access log that someone answered for them
        me = db.session.get(Resident, actor.resident_id)
        target = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
        audit.record(
            dataclasses.replace(target, display=me.name if me else target.display),
            subject,
            action="create",
            section="survey_response",
            purpose="family_access",
        )
    return response


def present_response(response: SurveyResponse) -> dict:
    return {
        "id": response.id,
        "survey_id": response.survey_id,
        "resident_id": response.resident_id,
        "proxy": response.proxy,
        "submitted_at": response.submitted_at,
        "answered_questions": db.session.scalar(
            select(func.count()).select_from(SurveyAnswer).where(SurveyAnswer.response_id == response.id)
        ),
    }
