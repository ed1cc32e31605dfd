from flask import Response, current_app, request
from flask_jwt_extended import get_jwt
from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, resident_required, staff_required
from app.common.idempotency import idempotent
from app.common.pagination import page_body
from app.extensions import limiter
from app.surveys import answers, drafts, export, publishing, results, schemas, scope, views

blp = Blueprint(
    "surveys",
    __name__,
    url_prefix="/api/v1",
    description="Satisfaction (满意度) and awareness (知晓率) surveys: questionnaires, invitations, "
    "answers from the phone, results and their export",
)


# --- questionnaires (admins) ----------------------------------------------------------


@blp.route("/surveys", methods=["POST"])
@staff_required("institution_admin")
@idempotent
@blp.arguments(schemas.SurveyIn)
@blp.response(201, schemas.SurveyOut)
def create_survey(body):
    """Create a draft survey (institution admin of the owning institution's subtree, or district admin).

    It targets the active residents of ``institution_id``'s subtree, narrowed by ``populations``
    (elderly, children_0_6, hypertension, t2dm, pregnant, disabled, poverty_alleviated,
    special_family, signed) with ``population_match`` any (default) or all. Choice and scale
    questions mark which answers count as positive; ``positive_threshold`` (default 0.8) states
    the respondent rule."""
    survey = drafts.create(current_actor(), body)
    return views.present_for_staff(survey)


@blp.route("/surveys", methods=["GET"])
@staff_required()
@blp.arguments(schemas.SurveyListArgs, location="query")
@blp.response(200, schemas.SurveyPage)
def list_surveys(args):
    """Surveys the caller may see: admins those owned in their subtree and the published ones
    covering their institution; other staff the published ones overlapping their institution."""
    items, total = views.list_for_staff(current_actor(), args)
    return page_body(items, args["page"], args["per_page"], total)


@blp.route("/surveys/<int:survey_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.SurveyOut)
def get_survey(survey_id):
    """One survey with its questions. Residents (invited, or acting for an invited family member)
    see published surveys, without which answers count as positive."""
    actor = current_actor()
    return views.present(actor, scope.get_survey(actor, survey_id))


@blp.route("/surveys/<int:survey_id>", methods=["PUT"])
@staff_required("institution_admin")
@blp.arguments(schemas.SurveyIn)
@blp.response(200, schemas.SurveyOut)
def update_survey(body, survey_id):
    """Replace a draft (questions and options get new ids). A published survey is frozen: 409."""
    actor = current_actor()
    survey = drafts.update_draft(actor, scope.get_owned_survey(actor, survey_id), body)
    return views.present_for_staff(survey)


@blp.route("/surveys/<int:survey_id>", methods=["DELETE"])
@staff_required("institution_admin")
@blp.response(204)
def delete_survey(survey_id):
    """Delete a draft. A published survey stays: 409."""
    actor = current_actor()
    drafts.delete_draft(actor, scope.get_owned_survey(actor, survey_id))
    return ""


@blp.route("/surveys/<int:survey_id>/publish", methods=["POST"])
@staff_required("institution_admin")
@blp.response(200, schemas.SurveyOut)
def publish_survey(survey_id):
    """Publish: freeze the questionnaire and invite every targeted resident (one invitation and one
    reminder each: WeChat where there is a credit, the inbox always; sent from the opening day at a
    civil hour). Publishing again changes nothing. Past its closing date: 409."""
    actor = current_actor()
    survey = publishing.publish(actor, scope.get_owned_survey(actor, survey_id))
    return views.present_for_staff(survey)


# --- answering (residents) --------------------------------------------------------------


@blp.route("/me/surveys", methods=["GET"])
@resident_required
@blp.arguments(schemas.MySurveysArgs, location="query")
@blp.response(200, schemas.SurveyPage)
def my_surveys(args):
    """Open surveys for me and for the family members I act for, each with who may answer it
    (``respondents``) and whether they have."""
    items, total = views.my_open_surveys(current_actor(), args["page"], args["per_page"])
    return page_body(items, args["page"], args["per_page"], total)


def _answer_limit():
    return current_app.config["SURVEY_ANSWER_RATE_LIMIT"]


def _account_key():
    # Per WeChat account: a scripted client must not flood the counts or probe survey ids.
    return f"survey-answer|{get_jwt().get('sub', request.remote_addr)}"


@blp.route("/surveys/<int:survey_id>/responses", methods=["POST"])
@resident_required
@limiter.limit(_answer_limit, key_func=_account_key)
@idempotent
@blp.arguments(schemas.SurveyResponseIn)
@blp.response(201, schemas.SurveyResponseOut)
def answer_survey(body, survey_id):
    """Answer a survey (once per resident: a second answer is 409, also when two arrive at once).

    ``on_behalf_of``: a family member this account acts for (recorded as a proxy answer). Not yet
    open or closed: 409. Missing required answers, options of another question, a scale value
    outside 1–5 or text longer than 500 characters: 422 with ``errors["answers.<question_id>"]``."""
    response = answers.respond(current_actor(), survey_id, body)
    return answers.present_response(response)


# --- results (admins) ---------------------------------------------------------------------


def _scoped(args, survey_id):
    actor = current_actor()
    survey = scope.get_survey_for_staff(actor, survey_id)
    return actor, survey, results.scope_for(actor, survey, args.get("institution_id"), args.get("team_id"))


@blp.route("/surveys/<int:survey_id>/results", methods=["GET"])
@staff_required("institution_admin")
@blp.arguments(schemas.SurveyResultArgs, location="query")
@blp.response(200, schemas.SurveyResultsOut)
def survey_results(args, survey_id):
    """Responses, response rate, positive rate (满意度 / 知晓率) and each question's distribution, for
    the survey's institution (or the caller's own, narrower one), a named institution subtree or a
    team, with per-institution and per-team rows. Free text: the newest answers per question;
    who wrote them only for the district admin. Doctors: 403."""
    actor, survey, scope = _scoped(args, survey_id)
    body = results.compute(actor, survey, scope)
    return body


@blp.route("/surveys/<int:survey_id>/results.xlsx", methods=["GET"])
@staff_required("institution_admin")
@blp.arguments(schemas.SurveyResultArgs, location="query")
@blp.response(200, content_type=export.MIME)
def survey_results_xlsx(args, survey_id):
    """The same results as an .xlsx workbook: Summary, Questions, Options, Institutions, Teams and
    Free text sheets (every free-text answer; identities only for the district admin)."""
    actor, survey, scope = _scoped(args, survey_id)
    body = results.compute(actor, survey, scope, text_limit=0, purpose="export")
    data = export.workbook(body, results.all_text_answers(actor, survey, scope))
    return Response(
        data,
        mimetype=export.MIME,
        headers={"Content-Disposition": f'attachment; filename="survey-{survey.id}-results.xlsx"'},
    )


@blp.route("/surveys/<int:survey_id>/questions/<int:question_id>/answers", methods=["GET"])
@staff_required("institution_admin")
@blp.arguments(schemas.SurveyTextAnswerArgs, location="query")
@blp.response(200, schemas.TextAnswerPage)
def free_text_answers(args, survey_id, question_id):
    """Every free-text answer to one question, a page at a time (same scope and identity rule as the
    results)."""
    actor, survey, scope = _scoped(args, survey_id)
    items, total = results.text_answers(actor, survey, scope, question_id, args["page"], args["per_page"])
    return page_body(items, args["page"], args["per_page"], total)
