"""Surveys through the API: write a questionnaire, publish it (invitations once each), answer it."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.common.time import at_local, freeze, frozen
from app.extensions import db
from app.notify.dispatcher import drain
from app.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from tests.surveys.helpers import (
    DAY,
    MORNING,
    QUESTIONS,
    add_people,
    answer,
    create,
    ids,
    outbox,
    publish,
    published,
    sheet,
    survey_body,
)


@pytest.fixture(autouse=True)
def _morning():
    freeze(MORNING)


def invited(app, survey_id):
    with app.app_context():
        return sorted(
            db.session.scalars(select(SurveyInvitation.resident_id).where(SurveyInvitation.survey_id == survey_id))
        )


def responses(app, survey_id):
    with app.app_context():
        return db.session.execute(
            select(
                SurveyResponse.resident_id,
                SurveyResponse.submitted_by_resident_id,
                SurveyResponse.proxy,
                SurveyResponse.scored_count,
                SurveyResponse.positive_count,
            )
            .where(SurveyResponse.survey_id == survey_id)
            .order_by(SurveyResponse.resident_id)
        ).all()


# --- questionnaires -------------------------------------------------------------------------


def test_create_edit_draft_and_publish_freezes(api, world, app):
    r = api.post("a-admin", "/api/v1/surveys", json=survey_body(world.a, populations=["elderly"]))
    assert r.status_code == 201, r.json
    draft = r.json
    assert (
        draft["status"],
        draft["state"],
        draft["institution_id"],
        draft["populations"],
        draft["kind"],
        draft["positive_threshold"],
        draft["invited"],
        draft["responses"],
    ) == ("draft", "draft", world.a, ["elderly"], "satisfaction", 0.8, 0, 0)
    assert [(q["position"], q["type"], q["required"], q["scored"], len(q["options"])) for q in draft["questions"]] == [
        (1, "single", True, True, 3),
        (2, "multi", True, True, 3),
        (3, "scale", True, True, 5),
        (4, "single", False, True, 2),
        (5, "text", False, False, 0),
    ]
    scale = draft["questions"][2]["options"]
    assert [(o["label"], o["value"], o["positive"]) for o in scale] == [
        ("1", 1, False),
        ("2", 2, False),
        ("3", 3, False),
        ("4", 4, True),
        ("5", 5, True),
    ]
    assert draft["questions"][4]["max_length"] == 500

    # drafts are edited wholesale; only admins of the owning subtree may
    url = f"/api/v1/surveys/{draft['id']}"
    edited_body = survey_body(
        world.a, title="修改后的标题", positive_threshold=0.75, populations=["elderly"], questions=QUESTIONS[:3]
    )
    assert api.put("b-admin", url, json=edited_body).status_code == 404
    assert api.put("a-doc", url, json=edited_body).status_code == 403
    edited = api.put("a-admin", url, json=edited_body)
    assert edited.status_code == 200, edited.json
    assert (edited.json["title"], edited.json["positive_threshold"], len(edited.json["questions"])) == (
        "修改后的标题",
        0.75,
        3,
    )
    assert [q["text"] for q in edited.json["questions"]] == [q["text"] for q in QUESTIONS[:3]]

    # the district admin sees it; b-admin does not; a doctor does not see drafts
    assert api.get("admin", url).status_code == 200
    assert api.get("b-admin", url).status_code == 404
    assert api.get("a-doc", url).status_code == 404

    done = publish(api, "a-admin", draft["id"])
    assert (done["status"], done["state"], done["invited"]) == ("published", "open", 1)  # grandpa (65+)
    assert done["published_at"] is not None
    frozen_questions = done["questions"]
    again = api.put("a-admin", url, json=edited_body)
    assert again.status_code == 409 and again.json["error"] == "survey_published"
    assert api.delete("a-admin", url).status_code == 409
    after = api.get("a-admin", url).json
    assert after["questions"] == frozen_questions and after["title"] == "修改后的标题"
    # now published, a doctor of centre A may read the questionnaire
    assert api.get("a-doc", url).status_code == 200
    other = create(api, "a-admin", world.a, title="另一份草稿")
    listing = {
        who: [(s["id"], s["state"]) for s in api.get(who, "/api/v1/surveys").json["items"]]
        for who in ("a-admin", "a-doc", "b-admin", "admin")
    }
    assert listing == {
        "a-admin": [(other["id"], "draft"), (draft["id"], "open")],
        "a-doc": [(draft["id"], "open")],
        "b-admin": [],
        "admin": [(other["id"], "draft"), (draft["id"], "open")],
    }
    opened = api.get("a-admin", "/api/v1/surveys", query_string={"state": "open"}).json
    assert [(s["id"], s["invited"], s["responses"]) for s in opened["items"]] == [(draft["id"], 1, 0)]
    assert "questions" not in opened["items"][0]


def test_delete_a_draft(api, world, app):
    draft = create(api, "a-admin", world.a)
    assert api.delete("a-admin", f"/api/v1/surveys/{draft['id']}").status_code == 204
    assert api.get("a-admin", f"/api/v1/surveys/{draft['id']}").status_code == 404


def test_questionnaire_validation(api, world, app):
    def errors(**overrides):
        r = api.post("a-admin", "/api/v1/surveys", json={**survey_body(world.a), **overrides})
        assert r.status_code == 422, r.json
        return r.json["errors"]

    assert "closes_on" in errors(closes_on=(DAY - timedelta(days=5)).isoformat())
    assert "institution_id" in errors(institution_id=world.b)  # not in a-admin's subtree
    assert "populations" in errors(populations=["martians"])
    assert "positive_threshold" in errors(positive_threshold=1.5)
    assert "positive_threshold" in errors(positive_threshold=0.8125)
    assert "questions" in errors(questions=[{"text": "x", "type": "scale", "options": [{"label": "a"}] * 3}])
    assert "questions" in errors(questions=[{"text": "x", "type": "single", "options": [{"label": "only"}]}])
    assert "questions" in errors(questions=[{"text": "x", "type": "text", "options": [{"label": "a"}, {"label": "b"}]}])
    # nothing scored: neither satisfaction nor awareness could be counted
    assert "questions" in errors(questions=[{"text": "意见", "type": "text"}])
    assert "questions" in errors(
        questions=[{"text": "x", "type": "single", "options": [{"label": "a"}, {"label": "b"}]}]
    )
    assert "kind" in errors(kind="happiness")
    assert "surprise" in errors(surprise=1)
    assert api.post("a-doc", "/api/v1/surveys", json=survey_body(world.a)).status_code == 403
    assert api.get("admin", "/api/v1/surveys").json["total"] == 0


def test_custom_scale_labels_and_publishing_a_closed_survey(api, world, app):
    labels = ["很差", "差", "一般", "好", "很好"]
    body = survey_body(
        world.a,
        questions=[
            {
                "text": "评分",
                "type": "scale",
                "options": [{"label": label, "positive": label in ("一般", "好", "很好")} for label in labels],
            }
        ],
    )
    r = api.post("a-admin", "/api/v1/surveys", json=body)
    assert r.status_code == 201, r.json
    assert [(o["label"], o["value"], o["positive"]) for o in r.json["questions"][0]["options"]] == [
        ("很差", 1, False),
        ("差", 2, False),
        ("一般", 3, True),
        ("好", 4, True),
        ("很好", 5, True),
    ]
    late = create(api, "a-admin", world.a, opens_on="2026-11-01", closes_on="2026-11-20")
    refused = api.post("a-admin", f"/api/v1/surveys/{late['id']}/publish")
    assert refused.status_code == 409 and refused.json["error"] == "survey_closed"
    assert invited(app, late["id"]) == []


# --- publishing and invitations -------------------------------------------------------------


def test_targets(api, world, app):
    everyone = published(api, "admin", world.district)
    assert invited(app, everyone["id"]) == sorted([world.alice, world.child, world.grandpa, world.bob])
    centre_a = published(api, "a-admin", world.a)
    assert invited(app, centre_a["id"]) == sorted([world.alice, world.child, world.grandpa])
    clinic = published(api, "a-admin", world.a1)
    assert invited(app, clinic["id"]) == [world.grandpa]
    either = published(api, "admin", world.district, populations=["children_0_6", "t2dm"])
    assert invited(app, either["id"]) == sorted([world.child, world.bob])
    both = published(api, "admin", world.district, populations=["elderly", "hypertension"], population_match="all")
    assert invited(app, both["id"]) == [world.grandpa]
    none = published(api, "admin", world.district, populations=["elderly", "t2dm"], population_match="all")
    assert (none["invited"], invited(app, none["id"])) == (0, [])


def test_signed_population_comes_from_contracts(api, world, app):
    from tests.contracts.helpers import make_packages, signed

    packages = make_packages(api, world)
    signed(api, "alice", [world.alice], world.team_a, [packages["basic"]["id"]])
    survey = published(api, "a-admin", world.a, populations=["signed"])
    assert invited(app, survey["id"]) == [world.alice]


def test_publish_invites_each_resident_once_even_when_retried(api, world, app, wechat_sandbox):
    subs = api.get("alice", "/api/v1/me/subscriptions").json
    template = next(s["template_id"] for s in subs if s["kind"] == "survey_invitation")
    assert api.post("alice", "/api/v1/me/subscriptions", json={"accepted": [template]}).status_code == 200
    api.resident_token("bob")  # bound, but no credit: inbox only
    survey = create(api, "admin", world.district, title="社区卫生服务满意度")
    first = publish(api, "admin", survey["id"])
    second = publish(api, "admin", survey["id"])
    assert first["invited"] == second["invited"] == 4
    assert second["published_at"] == first["published_at"]
    rows = outbox(app)
    assert [(kind, rid, key) for kind, rid, key, _ in rows] == [
        ("resident", rid, f"survey:{survey['id']}:{rid}")
        for rid in sorted([world.alice, world.child, world.grandpa, world.bob])
    ]
    assert {nb for *_, nb in rows} == {MORNING}  # open already, published at a civil hour: at once

    with app.app_context():
        result = drain()
    assert result.sent == 4
    publish(api, "admin", survey["id"])  # and a third time, after delivery
    with app.app_context():
        assert drain().claimed == 0
    assert len(outbox(app)) == 4 and len(invited(app, survey["id"])) == 4
    sent = wechat_sandbox.messages(touser="alice")
    assert len(sent) == 1 and sent[0]["template_id"] == template
    assert sent[0]["data"]["thing1"]["value"] == "社区卫生服务满意度"
    assert wechat_sandbox.messages(touser="bob") == []
    for who in ("alice", "bob"):
        inbox = api.get(who, "/api/v1/me/messages").json["items"]
        assert [m["title"] for m in inbox] == ["社区卫生服务满意度"], who
        assert "2026-12-05" in inbox[0]["body"]


def test_two_publishes_at_once_invite_once(api, world, app, monkeypatch):
    from app.surveys import scope

    survey = create(api, "admin", world.district)
    real = scope.get_owned_survey
    barrier = threading.Barrier(2)

    def racing(*args):  # both requests hold the draft before either publishes
        found = real(*args)
        barrier.wait(timeout=10)
        return found

    monkeypatch.setattr(scope, "get_owned_survey", racing)
    headers = [api.as_("admin"), api.as_("admin")]
    codes, errors = [], []

    def go(h):
        try:
            with frozen(MORNING):
                r = app.test_client().post(f"/api/v1/surveys/{survey['id']}/publish", headers=h)
            codes.append((r.status_code, (r.json or {}).get("status"), (r.json or {}).get("invited")))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=go, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert codes == [(200, "published", 4)] * 2
    assert len(invited(app, survey["id"])) == 4 and len(outbox(app)) == 4


def test_invitations_go_out_at_a_civil_hour_from_the_opening_day(api, world, app):
    with frozen(at_local(DAY, 22, 30)):
        late = published(api, "a-admin", world.a1)
    assert {nb for *_, nb in outbox(app)} == {at_local(DAY + timedelta(days=1), 9)}
    with frozen(at_local(DAY, 14)):
        later = published(api, "admin", world.b, opens_on="2026-12-01", closes_on="2026-12-31")
    assert later["state"] == "scheduled"
    rows = {rid: nb for _, rid, _, nb in outbox(app)}
    assert rows == {world.grandpa: at_local(DAY + timedelta(days=1), 9), world.bob: at_local(date(2026, 12, 1), 9)}
    assert late["invited"] == 1


def test_newcomers_are_invited_by_the_daily_job_once(api, world, app):
    from app.surveys.jobs import invite_newcomers

    survey = published(api, "a-admin", world.a, populations=["elderly"])
    closed = published(api, "a-admin", world.a, populations=["elderly"], closes_on=DAY.isoformat())
    add_people(app, world, {"old": ("a1", "team_a", date(1940, 3, 3)), "young": ("a1", None, date(1990, 3, 3))})
    with frozen(at_local(DAY, 7, 40)), app.app_context():
        assert invite_newcomers() == {"surveys": 2, "invited": 2, "enqueued": 2}
        assert invite_newcomers() == {"surveys": 2, "invited": 0, "enqueued": 0}
    assert invited(app, survey["id"]) == sorted([world.grandpa, world.old])
    with frozen(at_local(DAY + timedelta(days=1), 7, 40)), app.app_context():
        assert invite_newcomers() == {"surveys": 1, "invited": 0, "enqueued": 0}  # the other one closed
    assert [(rid, nb) for _, rid, key, nb in outbox(app) if key.startswith(f"survey:{survey['id']}:")] == [
        (world.grandpa, MORNING),
        (world.old, at_local(DAY, 9)),
    ]
    assert len(invited(app, closed["id"])) == 2


# --- answering --------------------------------------------------------------------------------


def test_my_open_surveys(api, world, app):
    mine = published(api, "a-admin", world.a)
    create(api, "a-admin", world.a, title="草稿")  # a draft: never listed
    published(api, "admin", world.b)  # bob's only
    published(api, "a-admin", world.a, title="未开始", opens_on="2026-12-01")
    published(api, "a-admin", world.a, title="已结束", opens_on="2026-11-01", closes_on=DAY.isoformat())
    with frozen(MORNING + timedelta(days=1)):
        listed = api.get("alice", "/api/v1/me/surveys")
    assert listed.status_code == 200, listed.json
    assert [(s["id"], s["state"], s["answered"]) for s in listed.json["items"]] == [(mine["id"], "open", False)]
    assert listed.json["items"][0]["respondents"] == [
        {"resident_id": world.alice, "name": "张丽", "relation": "self", "answered": False}
    ]
    assert "questions" not in listed.json["items"][0] and "rule" not in listed.json["items"][0]

    detail = api.get("alice", f"/api/v1/surveys/{mine['id']}").json
    assert [q["id"] for q in detail["questions"]] == [q["id"] for q in mine["questions"]]
    # residents are never told which answers count as positive
    assert all("positive" not in o for q in detail["questions"] for o in q["options"])
    assert "positive_threshold" not in detail and "invited" not in detail
    assert api.get("bob", f"/api/v1/surveys/{mine['id']}").status_code == 404
    assert api.get("bob", "/api/v1/me/surveys").json["total"] == 1
    assert api.get("a-doc", "/api/v1/me/surveys").status_code == 403


def test_answering_rules(api, world, app):
    survey = published(api, "a-admin", world.a)
    k = ids(survey)

    def problem(answers, **extra):
        r = answer(api, "alice", survey, answers, **extra)
        assert r.status_code == 422, r.json
        return r.json["errors"]

    good = sheet(survey, q1=1, q2=[1, 2], q3=5)
    # an option of another question, a second option on a single choice, unknown question
    assert problem([good[0] | {"option_ids": [k["q2o1"]]}, *good[1:]]) == {
        f"answers.{k['q1']}": [f"not an option of this question: {k['q2o1']}"]
    }
    assert problem([good[0] | {"option_ids": [k["q1o1"], k["q1o2"]]}, *good[1:]]) == {
        f"answers.{k['q1']}": ["choose exactly one option"]
    }
    assert problem([*good, {"question_id": 999999, "text": "?"}]) == {
        "answers.999999": ["no such question in this survey"]
    }
    # the scale is 1–5
    for value in (0, 6):
        assert problem([*good[:2], {"question_id": k["q3"], "value": value}]) == {
            f"answers.{k['q3']}": ["value must be between 1 and 5"]
        }
    # every required question, named
    assert problem(good[:1]) == {f"answers.{k['q2']}": ["required"], f"answers.{k['q3']}": ["required"]}
    assert problem([*good[:2], {"question_id": k["q3"], "value": None}]) == {f"answers.{k['q3']}": ["required"]}
    # text bounded, and only text for a text question
    assert problem([*good, {"question_id": k["q5"], "text": "好" * 501}]) == {
        f"answers.{k['q5']}": ["at most 500 characters"]
    }
    assert problem([*good, {"question_id": k["q5"], "option_ids": [k["q1o1"]]}]) == {
        f"answers.{k['q5']}": ["a free-text question is answered with text only"]
    }
    assert problem([*good, good[0]]) == {f"answers.{k['q1']}": ["answered twice"]}
    assert responses(app, survey["id"]) == []  # nothing written

    ok = answer(api, "alice", survey, [*good, {"question_id": k["q5"], "text": "  " + "好" * 500 + "  "}])
    assert ok.status_code == 201, ok.json
    assert (ok.json["survey_id"], ok.json["resident_id"], ok.json["proxy"], ok.json["answered_questions"]) == (
        survey["id"],
        world.alice,
        False,
        4,
    )
    second = answer(api, "alice", survey, good)
    assert second.status_code == 409 and second.json["error"] == "already_answered"
    assert responses(app, survey["id"]) == [(world.alice, world.alice, False, 3, 3)]
    listed = api.get("alice", "/api/v1/me/surveys").json["items"]
    assert [(s["id"], s["answered"]) for s in listed] == [(survey["id"], True)]

    # not invited (bob is in centre B), a draft, not open yet, closed
    assert answer(api, "bob", survey, good).status_code == 404
    later = published(api, "a-admin", world.a, opens_on="2026-12-01")
    early = answer(api, "alice", later, sheet(later, q1=1, q2=[1], q3=4))
    assert early.status_code == 409 and early.json["error"] == "survey_not_open"
    with frozen(at_local(DAY + timedelta(days=11), 0, 5)):  # closes_on was DAY + 10, inclusive
        closed = answer(api, "child", survey, sheet(survey, q1=1, q2=[1], q3=4))
    assert closed.status_code == 409 and closed.json["error"] == "survey_closed"
    with frozen(at_local(DAY + timedelta(days=10), 23, 50)):
        assert answer(api, "child", survey, sheet(survey, q1=1, q2=[1], q3=4)).status_code == 201
    draft = create(api, "a-admin", world.a)
    assert answer(api, "alice", draft, []).status_code == 404


def test_idempotency_key_replays_the_first_answer(api, world, app):
    survey = published(api, "a-admin", world.a)
    headers = {"Idempotency-Key": "answer-1"}
    first = api.post(
        "alice",
        f"/api/v1/surveys/{survey['id']}/responses",
        headers=headers,
        json={"answers": sheet(survey, q1=1, q2=[1], q3=4)},
    )
    again = api.post(
        "alice",
        f"/api/v1/surveys/{survey['id']}/responses",
        headers=headers,
        json={"answers": sheet(survey, q1=1, q2=[1], q3=4)},
    )
    assert (first.status_code, again.status_code) == (201, 201) and first.json == again.json
    assert len(responses(app, survey["id"])) == 1


def test_concurrent_duplicate_answers_make_exactly_one(api, world, app, monkeypatch):
    from app.surveys import answers

    survey = published(api, "a-admin", world.a)
    real = answers.check_answers
    barrier = threading.Barrier(2)

    def racing(*args):  # both requests pass every check before either inserts
        checked = real(*args)
        barrier.wait(timeout=10)
        return checked

    monkeypatch.setattr(answers, "check_answers", racing)
    headers = api.as_("alice")
    body = {"answers": sheet(survey, q1=1, q2=[1, 2], q3=5)}
    codes, errors = [], []

    def go():
        try:
            with frozen(MORNING):
                r = app.test_client().post(f"/api/v1/surveys/{survey['id']}/responses", json=body, headers=headers)
            codes.append((r.status_code, (r.json or {}).get("error")))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(codes) == [(201, None), (409, "already_answered")]
    assert responses(app, survey["id"]) == [(world.alice, world.alice, False, 3, 3)]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SurveyAnswer)) == 3


def test_answering_for_a_parent(api, world, app):
    survey = published(api, "a-admin", world.a, populations=["elderly"])  # grandpa only
    good = sheet(survey, q1=1, q2=[1], q3=4, q4=1, q5="父亲说医生很好")
    # before alice may act for grandpa: she sees nothing and cannot answer for him
    assert api.get("alice", "/api/v1/me/surveys").json["total"] == 0
    assert answer(api, "alice", survey, good, on_behalf_of=world.grandpa).status_code == 404
    grant = api.post(
        "alice",
        "/api/v1/me/family",
        json={"name": "张建国", "id_number": world.numbers["grandpa"], "relation": "parent"},
    )
    assert grant.status_code == 201, grant.json
    assert api.post("a-doc", f"/api/v1/family-grants/{grant.json['grant_id']}/confirm", json={}).status_code == 200

    listed = api.get("alice", "/api/v1/me/surveys").json["items"]
    assert [(s["id"], s["answered"], s["respondents"]) for s in listed] == [
        (
            survey["id"],
            False,
            [{"resident_id": world.grandpa, "name": "张建国", "relation": "family", "answered": False}],
        )
    ]
    # alice herself was not invited; bob is not hers to answer for
    mine = answer(api, "alice", survey, good)
    assert mine.status_code == 403 and mine.json["error"] == "not_invited"
    wrong = answer(api, "alice", survey, good, on_behalf_of=world.bob)
    assert wrong.status_code == 422 and list(wrong.json["errors"]) == ["on_behalf_of"]

    ok = answer(api, "alice", survey, good, on_behalf_of=world.grandpa)
    assert ok.status_code == 201, ok.json
    assert (ok.json["resident_id"], ok.json["proxy"]) == (world.grandpa, True)
    assert responses(app, survey["id"]) == [(world.grandpa, world.alice, True, 4, 4)]
    # once for grandpa, whoever answers
    twice = answer(api, "grandpa", survey, good)
    assert twice.status_code == 409 and twice.json["error"] == "already_answered"
    listed = api.get("alice", "/api/v1/me/surveys").json["items"]
    assert listed[0]["respondents"][0]["answered"] is True
    # grandpa's access log shows who answered for him
    from tests.archive.helpers import log_rows

    assert [
        (x.actor_kind, x.actor_display, x.action, x.purpose)
        for x in log_rows(app, world.grandpa)
        if x.section == "survey_response"
    ] == [("family", "张丽", "create", "family_access")]
    results = api.get("a-admin", f"/api/v1/surveys/{survey['id']}/results").json
    assert (results["responses"], results["proxy_responses"], results["positive"]) == (1, 1, 1)


def test_answering_is_rate_limited_per_account(api, world, app, monkeypatch):
    """A scripted client cannot flood a survey: past the limit every attempt is 429 and writes nothing."""
    monkeypatch.setitem(app.config, "SURVEY_ANSWER_RATE_LIMIT", "3 per hour")
    survey = published(api, "a-admin", world.a)
    bad = [{"question_id": 999999, "text": "?"}]
    assert [answer(api, "alice", survey, bad).status_code for _ in range(3)] == [422, 422, 422]
    limited = answer(api, "alice", survey, sheet(survey, q1=1, q2=[1], q3=4))
    assert limited.status_code == 429 and limited.json["error"] == "rate_limited"
    assert responses(app, survey["id"]) == []
    # another account is not held back by alice's attempts
    assert answer(api, "child", survey, sheet(survey, q1=1, q2=[1], q3=4)).status_code == 201
