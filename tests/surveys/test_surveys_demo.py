"""The ``surveys`` demo step: two running surveys, invitations by the target rule, plausible answers
that obey every rule the API enforces, and results the admins can read."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from app.demo import seed as seed_module
from app.extensions import db
from app.residents.models import Resident
from app.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyAnswerOption,
    SurveyInvitation,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
)
from app.surveys.rules import is_positive_respondent
from tests.factories import keep_demo_steps


def test_seed_demo_builds_two_surveys_with_consistent_answers(app, client, monkeypatch):
    keep_demo_steps(monkeypatch, "surveys")
    result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "(satisfaction, " in result.output and "(awareness, " in result.output

    with app.app_context():
        surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
        assert [(s.kind, s.status, s.state_on(seed_module.clock.today())) for s in surveys] == [
            ("satisfaction", "published", "open"),
            ("awareness", "published", "open"),
        ]
        residents = db.session.scalar(select(func.count()).select_from(Resident))
        for survey in surveys:
            invited = db.session.scalar(select(func.count()).where(SurveyInvitation.survey_id == survey.id))
            answered = db.session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey.id))
            assert 200 <= answered < invited <= residents
            # every respondent was invited
            stray = db.session.scalar(
                select(func.count())
                .select_from(SurveyResponse)
                .outerjoin(
                    SurveyInvitation,
                    and_(
                        SurveyInvitation.survey_id == SurveyResponse.survey_id,
                        SurveyInvitation.resident_id == SurveyResponse.resident_id,
                    ),
                )
                .where(SurveyResponse.survey_id == survey.id, SurveyInvitation.id.is_(None))
            )
            assert stray == 0
            # the stored counts agree with the answers, and the answers with the options
            recount = dict(
                db.session.execute(
                    select(SurveyAnswer.response_id, func.count(SurveyAnswer.positive)).group_by(
                        SurveyAnswer.response_id
                    )
                ).all()
            )
            rows = db.session.execute(
                select(SurveyResponse.id, SurveyResponse.scored_count, SurveyResponse.positive_count).where(
                    SurveyResponse.survey_id == survey.id
                )
            ).all()
            assert all(recount.get(rid, 0) == scored for rid, scored, _ in rows)
            mismatched = db.session.scalar(
                select(func.count())
                .select_from(SurveyAnswerOption)
                .join(SurveyAnswer, SurveyAnswer.id == SurveyAnswerOption.answer_id)
                .join(SurveyOption, SurveyOption.id == SurveyAnswerOption.option_id)
                .where(SurveyOption.question_id != SurveyAnswer.question_id)
            )
            assert mismatched == 0
            required_missing = db.session.scalar(
                select(func.count())
                .select_from(SurveyResponse)
                .join(
                    SurveyQuestion,
                    and_(SurveyQuestion.survey_id == SurveyResponse.survey_id, SurveyQuestion.required.is_(True)),
                )
                .outerjoin(
                    SurveyAnswer,
                    and_(SurveyAnswer.response_id == SurveyResponse.id, SurveyAnswer.question_id == SurveyQuestion.id),
                )
                .where(SurveyResponse.survey_id == survey.id, SurveyAnswer.id.is_(None))
            )
            assert required_missing == 0
            share = sum(is_positive_respondent(s, p, survey.positive_threshold_permille) for _, s, p in rows) / len(
                rows
            )
            assert 0.7 < share < 0.97, (survey.kind, share)
        # proxies answer for a member of their own household
        helper = aliased(Resident)
        proxies = db.session.execute(
            select(Resident.household_id, helper.household_id)
            .select_from(SurveyResponse)
            .join(Resident, Resident.id == SurveyResponse.resident_id)
            .join(helper, helper.id == SurveyResponse.submitted_by_resident_id)
            .where(SurveyResponse.proxy.is_(True))
        ).all()
        assert proxies and all(a == b for a, b in proxies)
        satisfaction_id = surveys[0].id

    token = client.post("/api/v1/auth/staff/login", json={"username": "admin", "password": app.config["DEMO_PASSWORD"]})
    assert token.status_code == 200, token.json
    body = client.get(
        f"/api/v1/surveys/{satisfaction_id}/results", headers={"Authorization": f"Bearer {token.json['access_token']}"}
    ).json
    assert body["responses"] >= 200 and 0.7 < body["positive_rate"] < 0.97
    assert sum(g["responses"] for g in body["institutions"]) == body["responses"]
    assert len(body["institutions"]) > 10
