"""GET /api/v1/followups/worklist: order by urgency, status filters, scope, pagination, one query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job
from tests.followups.helpers import DAY, make_resident, morning, run, visit_ok

D = DAY


@pytest.fixture
def team(app, api, world):
    """Team A's patients in every state (grandpa never seen: a first plan from the job), a team A2
    patient and team B's bob (never seen)."""
    names = {}

    def patient(name, diseases=("hypertension",), team_id=None, institution=None):
        rid = make_resident(app, name, institution or world.a, team_id or world.team_a, diseases=diseases)
        names[name] = rid
        return rid

    with frozen(morning(D)):
        upcoming = patient("甲上")
        visit_ok(api, "a-doc", upcoming, "hypertension", D - timedelta(days=20), sbp=128, dbp=80)  # opens D+60
        due = patient("乙到")
        visit_ok(api, "a-doc", due, "hypertension", D - timedelta(days=85), sbp=128, dbp=80)  # due D+5
        overdue5 = patient("丙五")
        visit_ok(api, "a-doc", overdue5, "hypertension", D - timedelta(days=95), sbp=128, dbp=80)
        overdue30 = patient("丁三十")
        visit_ok(api, "a-doc", overdue30, "hypertension", D - timedelta(days=120), sbp=128, dbp=80)
        referral = patient("戊转", diseases=("t2dm",))
        visit_ok(api, "a-doc", referral, "t2dm", D - timedelta(days=20), fasting_glucose=8.1)
        visit_ok(api, "a-doc", referral, "t2dm", D - timedelta(days=10), fasting_glucose=8.4)  # due D+4, priority 1
        urgent = patient("己急")
        visit_ok(api, "a-doc", urgent, "hypertension", D - timedelta(days=2), sbp=186, dbp=104)  # due D+12, priority 2
        patient("庚二队", team_id=world.team_a2)
        visit_ok(api, "a-doc2", names["庚二队"], "hypertension", D - timedelta(days=120), sbp=128, dbp=80)
    run(app, plans_job.ensure_plans, D)  # bob (team B) gets a first plan
    return names


def worklist(api, who, query=""):
    with frozen(morning(D)):
        r = api.get(who, f"/api/v1/followups/worklist{query}")
    assert r.status_code == 200, r.json
    return r.json


def test_urgent_and_referral_first_then_most_overdue(api, world, team):
    body = worklist(api, "a-doc", f"?team_id={world.team_a}")
    assert [i["resident"]["name"] for i in body["items"]] == [
        "己急",
        "戊转",
        "丁三十",
        "丙五",
        "乙到",
        "张建国",
        "甲上",
    ]
    assert [i["overdue_days"] for i in body["items"]] == [0, 0, 30, 5, 0, 0, 0]
    assert [i["window"] for i in body["items"]] == ["due", "due", "overdue", "overdue", "due", "due", "upcoming"]
    assert body["total"] == 7
    first = body["items"][5]
    assert (first["reason"], first["due_on"], first["last_visit"]) == (
        "first",
        (D + timedelta(days=30)).isoformat(),
        None,
    )
    urgent = body["items"][0]
    assert (urgent["priority"], urgent["reason"], urgent["disease"]) == (2, "urgent", "hypertension")
    assert urgent["last_visit"]["sbp"] == 186 and urgent["last_visit"]["urgent_referral"] is True
    referral = body["items"][1]
    assert referral["last_visit"]["fasting_glucose"] == 8.4
    assert (referral["last_visit"]["classification"], referral["priority"]) == ("uncontrolled", 1)
    assert referral["resident"]["phone"] == "138****5678"


def test_status_filters(api, world, team):
    due = worklist(api, "a-doc", "?status=due")
    assert [i["resident"]["name"] for i in due["items"]] == ["己急", "戊转", "乙到", "张建国"]
    overdue = worklist(api, "a-doc", "?status=overdue")
    assert [(i["resident"]["name"], i["overdue_days"]) for i in overdue["items"]] == [("丁三十", 30), ("丙五", 5)]
    soon = worklist(api, "a-doc", "?status=due&within_days=60")
    assert [i["resident"]["name"] for i in soon["items"]] == ["己急", "戊转", "乙到", "张建国", "甲上"]
    all_soon = worklist(api, "a-doc", "?within_days=59")
    assert "甲上" not in [i["resident"]["name"] for i in all_soon["items"]] and all_soon["total"] == 6
    t2dm = worklist(api, "a-doc", "?disease=t2dm")
    assert [i["resident"]["name"] for i in t2dm["items"]] == ["戊转"]


def test_default_is_the_callers_own_team(api, world, team):
    assert worklist(api, "a-nurse")["team_ids"] == [world.team_a]
    assert worklist(api, "a-nurse")["total"] == 7
    mine = worklist(api, "a-doc2")
    assert [i["resident"]["name"] for i in mine["items"]] == ["庚二队"]


def test_other_teams_patients_are_absent_and_other_teams_lists_404(api, world, team):
    names = [i["resident"]["name"] for i in worklist(api, "a-doc", f"?team_id={world.team_a}")["items"]]
    assert "刘强" not in names and "庚二队" not in names
    with frozen(morning(D)):
        r = api.get("b-doc", f"/api/v1/followups/worklist?team_id={world.team_a}")
        assert r.status_code == 404 and "己急" not in r.get_data(as_text=True)
        assert api.get("a-doc", f"/api/v1/followups/worklist?team_id={world.team_b}").status_code == 404
        # a doctor of another team of the same centre does not work team A's list either
        r = api.get("a-doc2", f"/api/v1/followups/worklist?team_id={world.team_a}")
        assert r.status_code == 404 and "己急" not in r.get_data(as_text=True)
        assert api.get("a-doc", "/api/v1/followups/worklist?team_id=99999").status_code == 404
        assert api.get("grandpa", "/api/v1/followups/worklist").status_code == 403
        # an admin who is in no team must say which team
        r = api.get("admin", "/api/v1/followups/worklist")
        assert r.status_code == 422 and list(r.json["errors"]) == ["team_id"]
    assert [i["resident"]["name"] for i in worklist(api, "b-doc")["items"]] == ["刘强"]
    assert worklist(api, "admin", f"?team_id={world.team_b}")["total"] == 1
    assert worklist(api, "a-admin", f"?team_id={world.team_a}")["total"] == 7  # the centre's admin may


def test_pagination_keeps_the_order_and_the_total(api, world, team):
    first = worklist(api, "a-doc", "?per_page=4")
    second = worklist(api, "a-doc", "?per_page=4&page=2")
    beyond = worklist(api, "a-doc", "?per_page=4&page=3")
    assert [i["resident"]["name"] for i in first["items"] + second["items"]] == [
        "己急",
        "戊转",
        "丁三十",
        "丙五",
        "乙到",
        "张建国",
        "甲上",
    ]
    assert (first["total"], second["total"], beyond["total"], beyond["items"]) == (7, 7, 7, [])


def test_worklist_reads_are_logged_for_the_listed_patients(api, world, app, team):
    from sqlalchemy import select

    from app.audit.models import AccessLog

    worklist(api, "a-doc", "?status=overdue")
    with app.app_context():
        rows = db.session.execute(
            select(AccessLog.subject_resident_id, AccessLog.section, AccessLog.purpose).where(
                AccessLog.section == "followup_worklist"
            )
        ).all()
    assert sorted(rows) == sorted(
        [(team["丁三十"], "followup_worklist", "follow_up"), (team["丙五"], "followup_worklist", "follow_up")]
    )


def test_the_list_is_one_query(api, world, app, team):
    statements = []

    def count(conn, cursor, statement, *args):
        if "followup_plans" in statement:
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            worklist(api, "a-doc")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_doctor_me_lists_the_patients_whose_contract_names_me(api, world, team):
    from tests.contracts.helpers import apply, make_packages

    with frozen(morning(D)):
        packages = make_packages(api, world)
        for name, doctor in (("丙五", world.a_doc), ("乙到", world.a_nurse)):
            r = apply(api, "a-doc", [team[name]], world.team_a, [packages["basic"]["id"]])
            assert r.status_code == 201, r.json
            r = api.post("a-doc", f"/api/v1/contracts/{r.json['id']}/sign", json={"doctor_id": doctor})
            assert r.status_code == 200, r.json
    mine = worklist(api, "a-doc", "?doctor=me")
    assert [i["resident"]["name"] for i in mine["items"]] == ["丙五"]


def test_the_worklist_body_is_exactly_its_documented_schema(api, world, team, monkeypatch):
    """Answered without a dump pass: the body must be what ``WorklistPage`` (the OpenAPI document)
    writes, keys in its order, every kind of entry present (never seen, referral, urgent, overdue)."""
    import json

    from app.common import responses
    from app.followups import routes
    from app.followups.schemas import WorklistPage

    bodies = []

    def capture(body):
        bodies.append(body)
        return responses.json_response(body)

    monkeypatch.setattr(routes, "json_response", capture)
    for query in (f"?team_id={world.team_a}", "?status=overdue", "?page=9"):
        body = worklist(api, "a-doc", query)
        dumped = json.loads(responses.dumps(WorklistPage().dump(bodies[-1])))
        assert dumped == body and list(dumped) == list(body)
        assert [list(item) for item in dumped["items"]] == [list(item) for item in body["items"]]
    assert any(i["last_visit"] is None for i in bodies[0]["items"])
    assert any(i["last_visit"] and i["last_visit"]["urgent_referral"] for i in bodies[0]["items"])
