"""Survey results: exact counts, set-based, per survey and per institution / team.

Definitions (the same in the JSON, the .xlsx and the indicators):
- **invited**: residents invited to the survey (one row each in ``survey_invitations``);
- **responses**: residents with a response (at most one each; proxy answers included);
- **response_rate** = responses ÷ invited;
- **positive** respondents: those whose positive scored answers are at least the survey's
  ``positive_threshold`` share of the scored questions they answered (``rules.rule_text``);
  compared in integers (per mille), so 4 of 5 at 0.8 is positive on every engine;
- **positive_rate** (满意度 / 知晓率) = positive respondents ÷ responses;
- per question: ``answered`` = responses answering it, each option's ``count`` (responses
  choosing it) and ``share`` = count ÷ answered; scored questions add ``positive`` and
  ``positive_rate``; scale questions a ``mean`` of the values.
Rates are rounded to 4 places and ``null`` when the denominator is 0.

Scope: residents are counted where their archive is now — the institution subtree of
``Resident.institution_id`` (``Institution.path``) and the responsible team ``Resident.team_id``.

**Free-text answers and identity (privacy rule).** Free text is shown only to institution
admins and the district admin (the results endpoints are admin-only; doctors get 403).
Only the district admin sees who wrote an answer (resident id and name, institution, whether a
family member answered, when), and each such disclosure is written to those residents' access
logs (purpose ``statistics`` / ``export``). Everyone below sees the text alone, without answer
ids or times and sorted by the text itself, so the order cannot be matched to who answered when.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select

from app.access.actors import Actor
from app.access.scope import get_institution, get_team
from app.audit import services as audit
from app.common.pagination import paginate
from app.common.time import today
from app.errors import NotFound
from app.extensions import db
from app.orgs.models import Institution, Team, subtree_ids
from app.residents.models import Resident
from app.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyAnswerOption,
    SurveyInvitation,
    SurveyResponse,
)
from app.surveys.rules import INDICATOR_OF, positive_respondent, rule_text

TEXT_PREVIEW = 50  # newest free-text answers inline per question; the rest page through


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


class Scope:
    """Which residents' answers count: an institution subtree and/or a team."""

    def __init__(self, institution: Institution | None, team: Team | None):
        self.institution, self.team = institution, team

    @property
    def institution_id(self):
        return self.institution.id if self.institution is not None else None

    def filters(self) -> list:
        found = []
        if self.institution is not None and self.institution.parent_id is not None:
            found.append(Resident.institution_id.in_(subtree_ids(self.institution.path)))
        if self.team is not None:
            found.append(Resident.team_id == self.team.id)
        return found


def scope_for(actor: Actor, survey: Survey, institution_id: int | None, team_id: int | None) -> Scope:
    """The caller's view: a named institution / team in their scope (404 otherwise); by default
    the survey's institution, or the caller's own institution when the survey covers more."""
    team = get_team(actor, team_id) if team_id is not None else None
    if institution_id is not None:
        institution = get_institution(actor, institution_id)
    elif actor.is_district_admin or survey.institution.is_within(actor.institution_path):
        institution = survey.institution
    else:
        institution = get_institution(actor, actor.institution_id)
    return Scope(institution, team)


def _group(key: str, key_id, name, invited=0, responses=0, positive=0) -> dict:
    return {
        key: key_id,
        "name": name,
        "invited": invited,
        "responses": responses,
        "response_rate": rate(responses, invited),
        "positive": positive,
        "positive_rate": rate(positive, responses),
    }


def _counts(survey: Survey, scope: Scope):
    inv, resp = SurveyInvitation, SurveyResponse
    positive = case(
        (positive_respondent(resp.scored_count, resp.positive_count, survey.positive_threshold_permille), 1), else_=0
    )
    proxy = case((resp.proxy.is_(True), 1), else_=0)
    return db.session.execute(
        select(
            Resident.institution_id,
            Resident.team_id,
            func.count(inv.id),
            func.count(resp.id),
            func.coalesce(func.sum(positive), 0),
            func.coalesce(func.sum(proxy), 0),
        )
        .select_from(inv)
        .join(Resident, Resident.id == inv.resident_id)
        .outerjoin(resp, and_(resp.survey_id == inv.survey_id, resp.resident_id == inv.resident_id))
        .where(inv.survey_id == survey.id, *scope.filters())
        .group_by(Resident.institution_id, Resident.team_id)
    ).all()


def _answer_base(survey: Survey, scope: Scope, *columns):
    return (
        select(*columns)
        .select_from(SurveyAnswer)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(Resident, Resident.id == SurveyResponse.resident_id)
        .where(SurveyResponse.survey_id == survey.id, *scope.filters())
    )


def _text_stmt(survey: Survey, scope: Scope, question_ids: list[int], identities: bool):
    stmt = _answer_base(
        survey,
        scope,
        SurveyAnswer.id,
        SurveyAnswer.question_id,
        SurveyAnswer.text,
        SurveyResponse.id.label("response_id"),
        SurveyResponse.resident_id,
        Resident.name,
        Resident.institution_id,
        SurveyResponse.proxy,
        SurveyResponse.submitted_at,
    ).where(SurveyAnswer.question_id.in_(question_ids), SurveyAnswer.text.is_not(None))
    if identities:
        return stmt.order_by(SurveyAnswer.question_id, SurveyAnswer.id.desc())
    # no ordering that follows submission time for viewers who may not know who answered
    return stmt.order_by(SurveyAnswer.question_id, SurveyAnswer.text, SurveyAnswer.id)


def _present_text(row, identities: bool) -> dict:
    item = {"question_id": row.question_id, "text": row.text}
    if identities:
        item.update(
            answer_id=row.id,
            response_id=row.response_id,
            resident_id=row.resident_id,
            resident_name=row.name,
            institution_id=row.institution_id,
            proxy=row.proxy,
            submitted_at=row.submitted_at,
        )
    return item


def _log_identities(actor: Actor, rows, identities: bool, purpose: str) -> None:
    if identities:
        audit.record_many(
            actor, sorted({r.resident_id for r in rows}), action="read", section="survey_answers", purpose=purpose
        )


def compute(
    actor: Actor, survey: Survey, scope: Scope, *, text_limit: int = TEXT_PREVIEW, purpose: str = "statistics"
) -> dict:
    """The whole result for one scope (see the module docstring for every number)."""
    identities = actor.is_district_admin
    institutions: dict[int, dict] = {}
    teams: dict = {}
    totals = {"invited": 0, "responses": 0, "positive": 0, "proxy": 0}
    for institution_id, team_id, invited, responses, positive, proxy in _counts(survey, scope):
        for bucket, key, key_id in ((institutions, "institution_id", institution_id), (teams, "team_id", team_id)):
            group = bucket.setdefault(key_id, {key: key_id, "invited": 0, "responses": 0, "positive": 0})
            group["invited"] += invited
            group["responses"] += responses
            group["positive"] += int(positive)
        totals["invited"] += invited
        totals["responses"] += responses
        totals["positive"] += int(positive)
        totals["proxy"] += int(proxy)
    names = (
        dict(
            db.session.execute(
                select(Institution.id, Institution.name).where(Institution.id.in_(list(institutions)))
            ).all()
        )
        if institutions
        else {}
    )
    team_ids = [t for t in teams if t is not None]
    team_names = (
        dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()) if team_ids else {}
    )

    per_question = {
        qid: (answered, int(pos or 0))
        for qid, answered, pos in db.session.execute(
            _answer_base(
                survey,
                scope,
                SurveyAnswer.question_id,
                func.count(SurveyAnswer.id),
                func.sum(case((SurveyAnswer.positive.is_(True), 1), else_=0)),
            ).group_by(SurveyAnswer.question_id)
        ).all()
    }
    per_option = dict(
        db.session.execute(
            _answer_base(survey, scope, SurveyAnswerOption.option_id, func.count(SurveyAnswerOption.id))
            .join(SurveyAnswerOption, SurveyAnswerOption.answer_id == SurveyAnswer.id)
            .group_by(SurveyAnswerOption.option_id)
        ).all()
    )

    text_questions = [q.id for q in survey.questions if q.type == "text"]
    texts: dict[int, list] = {}
    if text_questions and text_limit:  # 0: no inline answers (the export reads them all itself)
        stmt = _text_stmt(survey, scope, text_questions, identities)
        rows = []
        for qid in text_questions:
            rows.extend(db.session.execute(stmt.where(SurveyAnswer.question_id == qid).limit(text_limit)).all())
        _log_identities(actor, rows, identities, purpose)
        for row in rows:
            texts.setdefault(row.question_id, []).append(_present_text(row, identities))

    questions = []
    for q in survey.questions:
        answered, positive = per_question.get(q.id, (0, 0))
        item = {
            "question_id": q.id,
            "position": q.position,
            "text": q.text,
            "type": q.type,
            "required": q.required,
            "scored": q.scored,
            "answered": answered,
            "positive": positive if q.scored else None,
            "positive_rate": rate(positive, answered) if q.scored else None,
            "mean": None,
            "options": [
                {
                    "option_id": o.id,
                    "label": o.label,
                    "value": o.value,
                    "positive": o.positive,
                    "count": per_option.get(o.id, 0),
                    "share": rate(per_option.get(o.id, 0), answered),
                }
                for o in q.options
            ],
        }
        if q.type == "scale" and answered:
            item["mean"] = round(sum(o["value"] * o["count"] for o in item["options"]) / answered, 2)
        if q.type == "text":
            item["answers_total"] = answered
            item["answers"] = texts.get(q.id, [])
        questions.append(item)

    return {
        "survey_id": survey.id,
        "kind": survey.kind,
        "indicator": INDICATOR_OF[survey.kind],
        "title": survey.title,
        "state": survey.state_on(today()),
        "institution_id": scope.institution_id,
        "institution_name": scope.institution.name if scope.institution is not None else None,
        "team_id": scope.team.id if scope.team else None,
        "team_name": scope.team.name if scope.team else None,
        "positive_threshold": survey.positive_threshold,
        "rule": rule_text(survey),
        "invited": totals["invited"],
        "responses": totals["responses"],
        "proxy_responses": totals["proxy"],
        "response_rate": rate(totals["responses"], totals["invited"]),
        "positive": totals["positive"],
        "positive_rate": rate(totals["positive"], totals["responses"]),
        "identities_shown": identities,
        "questions": questions,
        "institutions": [
            _group("institution_id", i, names.get(i), g["invited"], g["responses"], g["positive"])
            for i, g in sorted(institutions.items())
        ],
        "teams": [
            _group("team_id", t, team_names.get(t), g["invited"], g["responses"], g["positive"])
            for t, g in sorted(teams.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
    }


def text_answers(actor: Actor, survey: Survey, scope: Scope, question_id: int, page: int, per_page: int):
    """All free-text answers to one question, a page at a time (identity: district admin only)."""
    question = next((q for q in survey.questions if q.id == question_id and q.type == "text"), None)
    if question is None:
        raise NotFound("no such free-text question in this survey")
    identities = actor.is_district_admin
    rows, total = paginate(_text_stmt(survey, scope, [question.id], identities), page, per_page, scalars=False)
    _log_identities(actor, rows, identities, "statistics")
    return [_present_text(r, identities) for r in rows], total


def all_text_answers(actor: Actor, survey: Survey, scope: Scope, purpose: str = "export") -> list[dict]:
    ids = [q.id for q in survey.questions if q.type == "text"]
    if not ids:
        return []
    identities = actor.is_district_admin
    rows = db.session.execute(_text_stmt(survey, scope, ids, identities)).all()
    _log_identities(actor, rows, identities, purpose)
    return [_present_text(r, identities) for r in rows]
