import marshmallow as ma

from app.common.pagination import PageArgs, page_schema
from app.common.schemas import Out, Strict, name_field
from app.residents.populations import POPULATIONS
from app.surveys.models import (
    POPULATION_MATCHES,
    QUESTION_TYPES,
    SCALE_VALUES,
    SCORED_TYPES,
    SURVEY_KINDS,
    SURVEY_STATUSES,
)

_list = ma.fields.List
# Target populations: the archive's key populations plus "signed" (an active contract).
TARGET_POPULATIONS = (*POPULATIONS, "signed")
MAX_QUESTIONS = 100
MAX_OPTIONS = 20
TEXT_MAX = 500  # characters of a free-text answer (checked per question: a 422 names it)


# --- questionnaire in ----------------------------------------------------------------


class SurveyOptionIn(Strict):
    label = name_field(100, required=True)
    positive = ma.fields.Boolean(
        load_default=False, metadata={"description": "this answer counts as satisfied / aware"}
    )


class SurveyQuestionIn(Strict):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(QUESTION_TYPES))
    required = ma.fields.Boolean(load_default=True)
    options = _list(
        ma.fields.Nested(SurveyOptionIn),
        load_default=list,
        validate=ma.validate.Length(max=MAX_OPTIONS),
        metadata={
            "description": "single/multi: 2 or more; scale: none (labels 1…5, 4 and 5 "
            "positive) or exactly 5 (for the values 1…5 in order); text: none"
        },
    )

    @ma.validates_schema
    def _options_fit_type(self, data, **kwargs):
        kind, options = data.get("type"), data.get("options") or []
        if kind in ("single", "multi") and len(options) < 2:
            raise ma.ValidationError("a choice question needs at least 2 options", "options")
        if kind == "scale" and len(options) not in (0, len(SCALE_VALUES)):
            raise ma.ValidationError("a 1–5 scale has no options (default labels) or exactly 5", "options")
        if kind == "text" and options:
            raise ma.ValidationError("a free-text question has no options", "options")
        labels = [o["label"].strip() for o in options]
        if len(set(labels)) != len(labels):
            raise ma.ValidationError("option labels must differ", "options")


class SurveyIn(Strict):
    """A whole questionnaire (POST creates a draft, PUT replaces a draft)."""

    title = name_field(100, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(SURVEY_KINDS))
    introduction = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))
    institution_id = ma.fields.Integer(
        required=True,
        metadata={"description": "owner; the survey targets the active residents of this institution's subtree"},
    )
    populations = _list(
        ma.fields.String(validate=ma.validate.OneOf(TARGET_POPULATIONS)),
        load_default=list,
        validate=ma.validate.Length(max=len(TARGET_POPULATIONS)),
        metadata={"description": "narrow the target; empty: every active resident"},
    )
    population_match = ma.fields.String(
        load_default="any",
        validate=ma.validate.OneOf(POPULATION_MATCHES),
        metadata={"description": "any: in at least one population; all: in each"},
    )
    opens_on = ma.fields.Date(required=True)
    closes_on = ma.fields.Date(required=True, metadata={"description": "inclusive"})
    # Stored in permille (1..1000, a CHECK): below 0.001 it would round to 0.
    positive_threshold = ma.fields.Float(
        load_default=0.8,
        validate=ma.validate.Range(min=0.001, max=1),
        metadata={
            "description": "a respondent counts as satisfied / aware when "
            "this share of their scored answers is positive"
        },
    )
    questions = _list(
        ma.fields.Nested(SurveyQuestionIn), required=True, validate=ma.validate.Length(min=1, max=MAX_QUESTIONS)
    )

    @ma.validates_schema
    def _whole(self, data, **kwargs):
        errors = {}
        if data.get("opens_on") and data.get("closes_on") and data["closes_on"] < data["opens_on"]:
            errors["closes_on"] = ["must not be before opens_on"]
        threshold = data.get("positive_threshold")
        if threshold is not None and abs(threshold * 1000 - round(threshold * 1000)) > 1e-6:
            errors["positive_threshold"] = ["at most 3 decimals"]
        if len(set(data.get("populations") or [])) != len(data.get("populations") or []):
            errors["populations"] = ["listed twice"]
        questions = data.get("questions") or []
        if questions and not any(
            q.get("type") in SCORED_TYPES
            and (
                q.get("type") == "scale"
                and not q.get("options")
                or any(o.get("positive") for o in q.get("options") or [])
            )
            for q in questions
        ):
            errors["questions"] = ["at least one choice or scale question needs an answer marked positive"]
        if errors:
            raise ma.ValidationError(errors)


# --- questionnaire out ---------------------------------------------------------------


class SurveyOptionOut(Out):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    label = ma.fields.String()
    value = ma.fields.Integer(allow_none=True)
    positive = ma.fields.Boolean()  # staff only (absent for residents)


class SurveyQuestionOut(Out):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    text = ma.fields.String()
    type = ma.fields.String()
    required = ma.fields.Boolean()
    scored = ma.fields.Boolean()  # staff only
    max_length = ma.fields.Integer()  # text questions
    options = _list(ma.fields.Nested(SurveyOptionOut))


class SurveyRespondentOut(Out):
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    relation = ma.fields.String(metadata={"description": "self (the account's own archive) | family"})
    answered = ma.fields.Boolean()


class SurveyOut(Out):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    introduction = ma.fields.String(allow_none=True)
    institution_id = ma.fields.Integer()
    institution_name = ma.fields.String()
    opens_on = ma.fields.Date()
    closes_on = ma.fields.Date()
    status = ma.fields.String(metadata={"description": "draft | published"})
    state = ma.fields.String(metadata={"description": "draft | scheduled | open | closed (today)"})
    # staff only
    populations = _list(ma.fields.String())
    population_match = ma.fields.String()
    positive_threshold = ma.fields.Float()
    rule = ma.fields.String()
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    published_at = ma.fields.DateTime(allow_none=True)
    invited = ma.fields.Integer()
    responses = ma.fields.Integer()
    # residents only: who of the account's family may answer it, and whether they have
    respondents = _list(ma.fields.Nested(SurveyRespondentOut))
    answered = ma.fields.Boolean()
    questions = _list(ma.fields.Nested(SurveyQuestionOut))


SurveyPage = page_schema(SurveyOut, "SurveyPage")


class SurveyListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(SURVEY_STATUSES))
    kind = ma.fields.String(validate=ma.validate.OneOf(SURVEY_KINDS))
    state = ma.fields.String(validate=ma.validate.OneOf(("draft", "scheduled", "open", "closed")))


class MySurveysArgs(PageArgs):
    pass


# --- answering -----------------------------------------------------------------------


class SurveyAnswerIn(Strict):
    question_id = ma.fields.Integer(required=True)
    option_ids = _list(ma.fields.Integer(), load_default=None, validate=ma.validate.Length(max=MAX_OPTIONS))
    value = ma.fields.Integer(load_default=None, allow_none=True)
    text = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=20000))


class SurveyResponseIn(Strict):
    answers = _list(ma.fields.Nested(SurveyAnswerIn), required=True, validate=ma.validate.Length(max=MAX_QUESTIONS))
    on_behalf_of = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "answer for a family member this account may act for (recorded as a proxy answer)"},
    )


class SurveyResponseOut(Out):
    id = ma.fields.Integer()
    survey_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    proxy = ma.fields.Boolean()
    submitted_at = ma.fields.DateTime()
    answered_questions = ma.fields.Integer()


# --- results -------------------------------------------------------------------------


class SurveyResultArgs(Strict):
    institution_id = ma.fields.Integer(
        metadata={
            "description": "an institution's subtree (default: the survey's "
            "institution, or the caller's own if narrower)"
        }
    )
    team_id = ma.fields.Integer(metadata={"description": "residents whose responsible team this is"})


class SurveyTextAnswerArgs(SurveyResultArgs, PageArgs):
    pass


class SurveyGroupOut(Out):
    institution_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(allow_none=True)
    invited = ma.fields.Integer()
    responses = ma.fields.Integer()
    response_rate = ma.fields.Float(allow_none=True)
    positive = ma.fields.Integer()
    positive_rate = ma.fields.Float(allow_none=True)


class SurveyOptionResultOut(Out):
    option_id = ma.fields.Integer()
    label = ma.fields.String()
    value = ma.fields.Integer(allow_none=True)
    positive = ma.fields.Boolean()
    count = ma.fields.Integer()
    share = ma.fields.Float(allow_none=True)


class SurveyTextAnswerOut(Out):
    answer_id = ma.fields.Integer()
    question_id = ma.fields.Integer()
    text = ma.fields.String()
    # district admin only: who wrote it
    response_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    resident_name = ma.fields.String()
    institution_id = ma.fields.Integer()
    proxy = ma.fields.Boolean()
    submitted_at = ma.fields.DateTime()


TextAnswerPage = page_schema(SurveyTextAnswerOut, "SurveyTextAnswerPage")


class SurveyQuestionResultOut(Out):
    question_id = ma.fields.Integer()
    position = ma.fields.Integer()
    text = ma.fields.String()
    type = ma.fields.String()
    required = ma.fields.Boolean()
    scored = ma.fields.Boolean()
    answered = ma.fields.Integer()
    positive = ma.fields.Integer(allow_none=True)
    positive_rate = ma.fields.Float(allow_none=True)
    mean = ma.fields.Float(allow_none=True)
    options = _list(ma.fields.Nested(SurveyOptionResultOut))
    answers_total = ma.fields.Integer()
    answers = _list(ma.fields.Nested(SurveyTextAnswerOut))


class SurveyResultsOut(Out):
    survey_id = ma.fields.Integer()
    kind = ma.fields.String()
    indicator = ma.fields.String()
    title = ma.fields.String()
    state = ma.fields.String()
    institution_id = ma.fields.Integer(allow_none=True)
    institution_name = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    team_name = ma.fields.String(allow_none=True)
    positive_threshold = ma.fields.Float()
    rule = ma.fields.String()
    invited = ma.fields.Integer()
    responses = ma.fields.Integer()
    proxy_responses = ma.fields.Integer()
    response_rate = ma.fields.Float(allow_none=True)
    positive = ma.fields.Integer()
    positive_rate = ma.fields.Float(allow_none=True)
    identities_shown = ma.fields.Boolean()
    questions = _list(ma.fields.Nested(SurveyQuestionResultOut))
    institutions = _list(ma.fields.Nested(SurveyGroupOut))
    teams = _list(ma.fields.Nested(SurveyGroupOut))
