"""Helpers for the surveys tests: questionnaires through the API, more residents, answering, outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.notify.models import Outbox

CST = timezone(timedelta(hours=8))
DAY = date(2026, 11, 25)
MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=CST)

# Q1 single, Q2 multi, Q3 scale (default: 4 and 5 positive), Q4 optional single, Q5 optional text.
QUESTIONS = [
    {
        "text": "您对家庭医生的服务是否满意？",
        "type": "single",
        "options": [{"label": "满意", "positive": True}, {"label": "一般"}, {"label": "不满意", "positive": False}],
    },
    {
        "text": "哪些方面做得好？",
        "type": "multi",
        "options": [{"label": "态度", "positive": True}, {"label": "技术", "positive": True}, {"label": "都不好"}],
    },
    {"text": "总体评分", "type": "scale"},
    {
        "text": "能否联系到家庭医生？",
        "type": "single",
        "required": False,
        "options": [{"label": "能", "positive": True}, {"label": "不能"}],
    },
    {"text": "意见和建议", "type": "text", "required": False},
]


def survey_body(institution_id: int, **overrides) -> dict:
    body = {
        "title": "家庭医生服务满意度调查",
        "kind": "satisfaction",
        "institution_id": institution_id,
        "introduction": "请如实填写",
        "opens_on": (DAY - timedelta(days=1)).isoformat(),
        "closes_on": (DAY + timedelta(days=10)).isoformat(),
        "questions": QUESTIONS,
    }
    body.update(overrides)
    return body


def create(api, who: str, institution_id: int, **overrides) -> dict:
    r = api.post(who, "/api/v1/surveys", json=survey_body(institution_id, **overrides))
    assert r.status_code == 201, r.json
    return r.json


def publish(api, who: str, survey_id: int) -> dict:
    r = api.post(who, f"/api/v1/surveys/{survey_id}/publish")
    assert r.status_code == 200, r.json
    return r.json


def published(api, who: str, institution_id: int, **overrides) -> dict:
    return publish(api, who, create(api, who, institution_id, **overrides)["id"])


def ids(survey: dict) -> dict:
    """{"q1": id, …, "q1o1": option id, …} by position."""
    found = {}
    for q in survey["questions"]:
        found[f"q{q['position']}"] = q["id"]
        for o in q["options"]:
            found[f"q{q['position']}o{o['position']}"] = o["id"]
    return found


def sheet(survey: dict, q1=None, q2=None, q3=None, q4=None, q5=None) -> list[dict]:
    """An answer sheet by option positions: q1=1 (single), q2=[1, 2] (multi), q3=5 (scale value)."""
    k = ids(survey)
    answers = []
    if q1 is not None:
        answers.append({"question_id": k["q1"], "option_ids": [k[f"q1o{q1}"]]})
    if q2 is not None:
        answers.append({"question_id": k["q2"], "option_ids": [k[f"q2o{i}"] for i in q2]})
    if q3 is not None:
        answers.append({"question_id": k["q3"], "value": q3})
    if q4 is not None:
        answers.append({"question_id": k["q4"], "option_ids": [k[f"q4o{q4}"]]})
    if q5 is not None:
        answers.append({"question_id": k["q5"], "text": q5})
    return answers


def answer(api, who: str, survey: dict, answers: list[dict], **extra):
    return api.post(who, f"/api/v1/surveys/{survey['id']}/responses", json={"answers": answers, **extra})


def add_people(app, world, specs: dict) -> None:
    """More residents who can log in: {"p1": (institution key, team key or None, birth date), …}."""
    from app.orgs.models import Institution, Team
    from tests.factories import resident

    with app.app_context():
        for key, (inst_key, team_key, born) in specs.items():
            inst = db.session.get(Institution, world.ids[inst_key])
            team = db.session.get(Team, world.ids[team_key]) if team_key else None
            person = resident(f"居民{key}", inst, born, team_=team)
            world.ids[key] = person.id
            world.numbers[key] = person.id_number
            world.names[key] = person.name
        db.session.commit()


def many_logins(monkeypatch, app) -> None:
    """More residents log in than the test login limit (5 a minute from one address) allows."""
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100 per minute")


def outbox(app, kind: str = "survey_invitation") -> list[tuple]:
    with app.app_context():
        return [
            (o.recipient_kind, o.recipient_id, o.dedup_key, o.not_before)
            for o in db.session.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.recipient_id))
        ]
