"""Surveys: write a questionnaire, publish it to its target, answer it from the phone.

Who may do what (deny by default; out of scope reads as 404):
- **create / edit / delete a draft / publish**: an institution admin for a survey owned by an
  institution of their subtree, or the district admin. Seeing a survey you may not change
  (e.g. the district's survey, from a centre) gives 403 on these acts.
- **see a survey**: admins see the surveys owned in their subtree (drafts included) and the
  published surveys whose target covers their institution (the district's, their centre's);
  other staff see published surveys that overlap their institution; a resident account sees a
  published survey to which it, or a family member it may act for, was invited.
- **answer**: the invited resident, or an account answering for an invited family member it
  may act for (``access.scope.resident_ids_for_account``) — stored with ``proxy`` and the
  account holder's archive, and written to the subject's access log.
- **results** (``surveys.results``): institution and district admins only.

Answering rules: one response per resident and survey (a unique constraint decides two
concurrent submissions: one 201, one 409); the survey must be open today (Asia/Shanghai
dates, ``closes_on`` inclusive): not yet open or closed → 409; every required question
answered, options belonging to their question, a scale value 1–5, free text at most
``TEXT_MAX`` characters → otherwise 422 with ``errors["answers.<question_id>"]`` naming each
offending question.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, cast, exists, false, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.access.actors import Actor
from app.access.scope import get_institution, resident_ids_for_account
from app.audit import services as audit
from app.common.pagination import paginate
from app.common.time import at_local, local_tz, now, today
from app.common.types import UTCDateTime
from app.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import Institution
from app.residents.models import Resident
from app.residents.populations import population_clause
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
from app.surveys.notifications import SURVEY_INVITATION
from app.surveys.schemas import TEXT_MAX

log = logging.getLogger(__name__)

CIVIL_HOURS = (9, 20)  # invitations go out between 09:00 and 20:00 local time
INDICATOR_OF = {"satisfaction": "满意度", "awareness": "知晓率"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # kept out of stored free text
_POSITIVE_WORD = {"satisfaction": "satisfied", "awareness": "aware"}


# --- rules stated with the survey ------------------------------------------------------

def rule_text(survey: Survey) -> str:
    """The respondent rule, as shown with the survey and its results."""
    return (f"A respondent counts as {_POSITIVE_WORD[survey.kind]} when at least "
            f"{survey.positive_threshold_permille / 10:g} % of the scored questions they answered have a "
            f"positive answer. Scored questions are the choice and 1–5 scale questions with an answer marked "
            f"positive; a single-choice or scale answer is positive when the chosen option is marked positive, "
            f"a multiple-choice answer when every chosen option is. Free text is never scored. "
            f"Positive rate = such respondents ÷ respondents; response rate = respondents ÷ invited.")


def positive_respondent(scored, positive, permille):
    """SQL: the respondent rule, exact in integers (columns or binds)."""
    return and_(scored > 0, positive * 1000 >= permille * scored)


def is_positive_respondent(scored: int, positive: int, permille: int) -> bool:
    return scored > 0 and positive * 1000 >= permille * scored


# --- scope ----------------------------------------------------------------------------

def _is_admin(actor: Actor) -> bool:
    return actor.is_staff and (actor.is_district_admin or "institution_admin" in actor.roles)


def owns(actor: Actor, survey: Survey) -> bool:
    """May change this survey: an admin of the owning institution's subtree."""
    return _is_admin(actor) and (actor.is_district_admin or survey.institution.path.startswith(actor.institution_path))


def _ancestor_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def staff_survey_clause(actor: Actor):
    """WHERE over ``Survey`` for what a staff member may see (see the module docstring)."""
    if not actor.is_staff:
        return false()
    if actor.is_district_admin:
        return true()
    within = Survey.institution_id.in_(
        select(Institution.id).where(Institution.path.startswith(actor.institution_path)))
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
        survey = db.session.scalar(select(Survey).where(
            Survey.id == survey_id, Survey.status == "published",
            exists(select(SurveyInvitation.id).where(SurveyInvitation.survey_id == Survey.id,
                                                     SurveyInvitation.resident_id.in_(ids)))))
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


# --- questionnaire ----------------------------------------------------------------------

def _owner_institution(actor: Actor, institution_id: int) -> Institution:
    try:
        return get_institution(actor, institution_id)
    except NotFound:
        raise Invalid("institution_id", "no such institution in your scope") from None


def _build_questions(questions: list[dict]) -> list[SurveyQuestion]:
    built = []
    for position, q in enumerate(questions, start=1):
        question = SurveyQuestion(position=position, text=q["text"].strip(), type=q["type"],
                                  required=q.get("required", True))
        options = q.get("options") or []
        if q["type"] == "scale":
            if options:
                question.options = [SurveyOption(position=v, label=o["label"].strip(), positive=bool(o["positive"]),
                                                 value=v) for v, o in zip(SCALE_VALUES, options)]
            else:  # default labels; 4 and 5 count as positive
                question.options = [SurveyOption(position=v, label=str(v), positive=v >= 4, value=v)
                                    for v in SCALE_VALUES]
        else:
            question.options = [SurveyOption(position=i, label=o["label"].strip(), positive=bool(o["positive"]))
                                for i, o in enumerate(options, start=1)]
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
        update(Survey).where(Survey.id == survey.id, Survey.status == "draft").values(updated_at=now())
        .execution_options(synchronize_session=False)).rowcount
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


# --- targeting and invitations ------------------------------------------------------------

def signed_clause(day: date):
    """SQL over ``Resident``: a contract in force on ``day`` (app.contracts)."""
    from app.contracts.models import Contract
    from app.contracts.services import in_force_clause

    return exists(select(Contract.id).where(Contract.resident_id == Resident.id, in_force_clause(day)))


def _population(name: str, day: date):
    return signed_clause(day) if name == "signed" else population_clause(name, day)


def target_clause(survey: Survey, day: date):
    """SQL over ``Resident``: the survey's target on ``day``."""
    conditions = [Resident.status == "active",
                  Resident.institution_id.in_(select(Institution.id).where(
                      Institution.path.startswith(survey.institution.path)))]
    clauses = [_population(name, day) for name in survey.populations or []]
    if clauses:
        conditions.append(and_(*clauses) if survey.population_match == "all" else or_(*clauses))
    return and_(*conditions)


def invitation_time(survey: Survey, at: datetime) -> datetime:
    """When the invitation may go out: not before the survey opens, and at a civil hour."""
    start, end = CIVIL_HOURS
    when = max(at, at_local(survey.opens_on, start))
    local = when.astimezone(local_tz())
    if local.hour < start:
        return at_local(local.date(), start)
    if local.hour >= end:
        return at_local(local.date() + timedelta(days=1), start)
    return when


def _invitation_payload(survey: Survey) -> dict:
    return {"title": survey.title, "institution": survey.institution.name, "closes_on": survey.closes_on.isoformat(),
            "survey_id": survey.id, "page": f"pages/survey/answer?id={survey.id}",
            "body": f"{survey.institution.name}邀请您参加“{survey.title}”，请于 {survey.closes_on.isoformat()} 前"
                    f"在小程序中填写。您的回答如实统计，仅用于改进服务。"}


def _insert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def invite(survey: Survey, day: date | None = None, at: datetime | None = None) -> tuple[int, int]:
    """Invite every targeted resident not invited yet: one INSERT … SELECT, then one reminder
    each through the outbox (dedup ``survey:<id>:<resident_id>``). Returns (invited, enqueued)."""
    day, at = day or today(), at or now()
    already = exists(select(SurveyInvitation.id).where(SurveyInvitation.survey_id == survey.id,
                                                       SurveyInvitation.resident_id == Resident.id))
    chosen = select(literal(survey.id), Resident.id, literal(at, UTCDateTime)).where(
        target_clause(survey, day), ~already)
    statement = (_insert(SurveyInvitation)
                 .from_select(["survey_id", "resident_id", "invited_at"], chosen)
                 .on_conflict_do_nothing(index_elements=["survey_id", "resident_id"])
                 .returning(SurveyInvitation.id))
    invited = len(db.session.execute(statement).all())
    if not invited:
        return 0, 0
    # The rows just written carry this run's ``invited_at``; their reminders go in one statement.
    just_invited = select(SurveyInvitation.resident_id,
                          literal(f"survey:{survey.id}:") + cast(SurveyInvitation.resident_id, String)).where(
        SurveyInvitation.survey_id == survey.id, SurveyInvitation.invited_at == at)
    enqueued = notify.enqueue_select(SURVEY_INVITATION, "resident", just_invited, _invitation_payload(survey),
                                     invitation_time(survey, at))
    log.info("survey %s: %d residents invited, %d invitations enqueued", survey.id, invited, enqueued)
    return invited, enqueued


def publish(actor: Actor, survey: Survey) -> Survey:
    """Freeze the questionnaire and invite its target. A retry (or a concurrent second
    publish) finds the survey published and adds nothing."""
    if survey.status == "published":
        return survey
    day = today()
    if survey.closes_on < day:
        raise Conflict("the survey's closing date has passed", error="survey_closed")
    at = now()
    claimed = db.session.execute(
        update(Survey).where(Survey.id == survey.id, Survey.status == "draft")
        .values(status="published", published_at=at, published_by_id=actor.id, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(survey)
    if claimed != 1:  # someone else published it meanwhile
        return survey
    invite(survey, day, at)
    return survey


# --- presenting ---------------------------------------------------------------------------

def _present_questions(survey: Survey, staff: bool) -> list[dict]:
    out = []
    for q in survey.questions:
        item = {"id": q.id, "position": q.position, "text": q.text, "type": q.type, "required": q.required,
                "options": [{"id": o.id, "position": o.position, "label": o.label, "value": o.value,
                             **({"positive": o.positive} if staff else {})} for o in q.options]}
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
    invited = dict(db.session.execute(
        select(SurveyInvitation.survey_id, func.count()).where(SurveyInvitation.survey_id.in_(survey_ids))
        .group_by(SurveyInvitation.survey_id)).all())
    answered = dict(db.session.execute(
        select(SurveyResponse.survey_id, func.count()).where(SurveyResponse.survey_id.in_(survey_ids))
        .group_by(SurveyResponse.survey_id)).all())
    return {sid: (invited.get(sid, 0), answered.get(sid, 0)) for sid in survey_ids}


def present_for_staff(survey: Survey, counts: tuple[int, int] | None = None, *, questions: bool = True) -> dict:
    invited, responses = counts if counts is not None else counts_for([survey.id])[survey.id]
    body = {"id": survey.id, "kind": survey.kind, "title": survey.title, "introduction": survey.introduction,
            "institution_id": survey.institution_id, "institution_name": survey.institution.name,
            "opens_on": survey.opens_on, "closes_on": survey.closes_on, "status": survey.status,
            "state": survey.state_on(today()), "populations": list(survey.populations or []),
            "population_match": survey.population_match, "positive_threshold": survey.positive_threshold,
            "rule": rule_text(survey), "created_by_id": survey.created_by_id, "created_at": survey.created_at,
            "updated_at": survey.updated_at, "published_at": survey.published_at,
            "invited": invited, "responses": responses}
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
        .outerjoin(SurveyResponse, and_(SurveyResponse.survey_id == SurveyInvitation.survey_id,
                                        SurveyResponse.resident_id == SurveyInvitation.resident_id))
        .where(SurveyInvitation.survey_id.in_(survey_ids), SurveyInvitation.resident_id.in_(ids))).all()
    found: dict[int, list[dict]] = {}
    for survey_id, resident_id, name, response_id in rows:
        found.setdefault(survey_id, []).append({
            "resident_id": resident_id, "name": name,
            "relation": "self" if resident_id == actor.resident_id else "family",
            "answered": response_id is not None})
    for people in found.values():
        people.sort(key=lambda p: (p["relation"] != "self", p["resident_id"]))
    return found


def present_for_resident(actor: Actor, survey: Survey, respondents: list[dict] | None = None,
                         *, questions: bool = True) -> dict:
    if respondents is None:
        respondents = _respondents(actor, [survey.id]).get(survey.id, [])
    mine = next((p for p in respondents if p["relation"] == "self"), None)
    body = {"id": survey.id, "kind": survey.kind, "title": survey.title, "introduction": survey.introduction,
            "institution_id": survey.institution_id, "institution_name": survey.institution.name,
            "opens_on": survey.opens_on, "closes_on": survey.closes_on, "status": survey.status,
            "state": survey.state_on(today()), "respondents": respondents,
            "answered": bool(mine and mine["answered"])}
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
    stmt = (select(Survey).where(
        Survey.status == "published", Survey.opens_on <= day, Survey.closes_on >= day,
        exists(select(SurveyInvitation.id).where(SurveyInvitation.survey_id == Survey.id,
                                                 SurveyInvitation.resident_id.in_(ids))))
        .order_by(Survey.closes_on, Survey.id))
    rows, total = paginate(stmt, page, per_page)
    people = _respondents(actor, [s.id for s in rows])
    return [present_for_resident(actor, s, people.get(s.id, []), questions=False) for s in rows], total


# --- answering ----------------------------------------------------------------------------

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
        raise AppError("the answers have problems: " + ", ".join(sorted(errors)), status=422,
                       error="validation_error", errors=errors)
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
    invited = db.session.scalar(select(SurveyInvitation.id).where(
        SurveyInvitation.survey_id == survey.id, SurveyInvitation.resident_id == subject))
    if invited is None:
        raise Forbidden("this resident was not invited to this survey", error="not_invited")
    if db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id,
                                                         SurveyResponse.resident_id == subject)):
        raise Conflict("this survey has already been answered for this resident", error="already_answered")
    checked = check_answers(survey, data["answers"])
    proxy = subject != actor.resident_id
    response = SurveyResponse(survey_id=survey.id, resident_id=subject, account_id=actor.id,
                              submitted_by_resident_id=actor.resident_id, proxy=proxy,
                              scored_count=sum(c.positive is not None for c in checked),
                              positive_count=sum(c.positive is True for c in checked), submitted_at=now())
    db.session.add(response)
    try:
        db.session.flush()  # the unique constraint decides between concurrent submissions
    except IntegrityError:
        db.session.rollback()
        raise Conflict("this survey has already been answered for this resident",
                       error="already_answered") from None
    db.session.add_all(SurveyAnswer(response_id=response.id, question_id=c.question.id, value=c.value,
                                    text=c.text, positive=c.positive,
                                    options=[SurveyAnswerOption(option_id=o.id) for o in c.options])
                       for c in checked)
    db.session.flush()
    if proxy:  # the subject can see in their access log that someone answered for them
        me = db.session.get(Resident, actor.resident_id)
        target = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
        audit.record(dataclasses.replace(target, display=me.name if me else target.display), subject,
                     action="create", section="survey_response", purpose="family_access")
    return response


def present_response(response: SurveyResponse) -> dict:
    return {"id": response.id, "survey_id": response.survey_id, "resident_id": response.resident_id,
            "proxy": response.proxy, "submitted_at": response.submitted_at,
            "answered_questions": db.session.scalar(select(func.count()).select_from(SurveyAnswer)
                                                    .where(SurveyAnswer.response_id == response.id))}


__all__ = ["create", "update_draft", "delete_draft", "publish", "invite", "respond", "target_clause",
           "get_survey", "get_owned_survey", "get_survey_for_staff", "present", "rule_text",
           "positive_respondent", "is_positive_respondent"]
