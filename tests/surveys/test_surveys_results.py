"""Survey results on hand-built answers: exact numerators and denominators, per institution and team,
the .xlsx, who may see free text and the respondents' identity, and scope."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.common.spreadsheet import safe_cell
from app.common.time import freeze, frozen
from tests.archive.helpers import log_rows
from tests.surveys.helpers import MORNING, add_people, answer, ids, many_logins, published, sheet

# threshold 0.75: 3 of 4 scored answers positive is satisfied (the boundary), 2 of 3 is not
#          q1 single: 1 满意+ 2 一般 3 不满意 · q2 multi: 1 态度+ 2 技术+ 3 都不好 · q3 scale 4,5+ · q4 optional 1 能+ 2 不能
SHEETS = {
    "alice": dict(q1=1, q2=[1, 2], q3=5, q4=1, q5="服务很好"),  # 4/4 ✓
    "grandpa": dict(q1=2, q2=[1], q3=4, q4=1),  # 3/4 ✓ (exactly 0.75)
    "bob": dict(q1=1, q2=[1, 3], q3=3, q4=1),  # 2/4 ✗ (a multi answer with a negative option)
    "p1": dict(q1=1, q2=[2], q3=2),  # 2/3 ✗ (optional q4 skipped)
    "p2": dict(q1=1, q2=[1], q3=4, q5="=1+1"),  # 3/3 ✓ (a formula-looking comment)
    "p3": dict(q1=3, q2=[3], q3=1, q4=2, q5="电话打不通"),  # 0/4 ✗
}


@pytest.fixture
def answered(api, world, app, monkeypatch):
    """A district survey: 8 invited, 6 answered, 3 satisfied."""
    freeze(MORNING)
    many_logins(monkeypatch, app)
    add_people(
        app,
        world,
        {
            "p1": ("a", "team_a2", date(1985, 1, 1)),
            "p2": ("a1", "team_a", date(1960, 2, 2)),
            "p3": ("b", "team_b", date(1970, 3, 3)),
            "p4": ("b", None, date(1990, 4, 4)),
        },
    )
    survey = published(api, "admin", world.district, positive_threshold=0.75)
    assert survey["invited"] == 8
    for who, spec in SHEETS.items():
        r = answer(api, who, survey, sheet(survey, **spec))
        assert r.status_code == 201, (who, r.json)
    return survey


def results(api, who, survey, **query):
    r = api.get(who, f"/api/v1/surveys/{survey['id']}/results", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def groups(rows, key):
    return {g[key]: (g["invited"], g["responses"], g["response_rate"], g["positive"], g["positive_rate"]) for g in rows}


def test_numerators_and_denominators_are_exact(api, world, answered):
    body = results(api, "admin", answered)
    assert (
        body["invited"],
        body["responses"],
        body["response_rate"],
        body["positive"],
        body["positive_rate"],
        body["proxy_responses"],
        body["institution_id"],
        body["team_id"],
    ) == (8, 6, 0.75, 3, 0.5, 0, world.district, None)
    assert body["indicator"] == "满意度" and "75 %" in body["rule"] and body["positive_threshold"] == 0.75
    q = {item["position"]: item for item in body["questions"]}
    assert [(o["label"], o["count"], o["share"]) for o in q[1]["options"]] == [
        ("满意", 4, 0.6667),
        ("一般", 1, 0.1667),
        ("不满意", 1, 0.1667),
    ]
    assert (q[1]["answered"], q[1]["positive"], q[1]["positive_rate"]) == (6, 4, 0.6667)
    assert [(o["label"], o["count"], o["share"]) for o in q[2]["options"]] == [
        ("态度", 4, 0.6667),
        ("技术", 2, 0.3333),
        ("都不好", 2, 0.3333),
    ]
    assert (q[2]["answered"], q[2]["positive"]) == (6, 4)  # alice, grandpa, p1, p2: only positive options
    assert [(o["value"], o["count"]) for o in q[3]["options"]] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 1)]
    assert (q[3]["answered"], q[3]["positive"], q[3]["positive_rate"], q[3]["mean"]) == (6, 3, 0.5, 3.17)
    assert (q[4]["answered"], q[4]["positive"], q[4]["positive_rate"], q[4]["required"]) == (4, 3, 0.75, False)
    assert [(o["label"], o["count"], o["share"]) for o in q[4]["options"]] == [("能", 3, 0.75), ("不能", 1, 0.25)]
    assert (q[5]["scored"], q[5]["answered"], q[5]["positive"], q[5]["answers_total"]) == (False, 3, None, 3)

    assert groups(body["institutions"], "institution_id") == {
        world.a: (3, 2, 0.6667, 1, 0.5),  # alice, child, p1
        world.a1: (2, 2, 1.0, 2, 1.0),  # grandpa, p2
        world.b: (3, 2, 0.6667, 0, 0.0),  # bob, p3, p4
    }
    assert groups(body["teams"], "team_id") == {
        world.team_a: (4, 3, 0.75, 3, 1.0),
        world.team_a2: (1, 1, 1.0, 0, 0.0),
        world.team_b: (2, 2, 1.0, 0, 0.0),
        None: (1, 0, 0.0, 0, None),
    }

    # an institution subtree, and a team
    centre = results(api, "admin", answered, institution_id=world.a)
    assert (centre["invited"], centre["responses"], centre["positive"], centre["positive_rate"]) == (5, 4, 3, 0.75)
    assert [item["answered"] for item in centre["questions"]] == [4, 4, 4, 2, 2]
    team = results(api, "admin", answered, team_id=world.team_a)
    assert (team["invited"], team["responses"], team["response_rate"], team["positive"], team["positive_rate"]) == (
        4,
        3,
        0.75,
        3,
        1.0,
    )
    both = results(api, "admin", answered, institution_id=world.a1, team_id=world.team_a)
    assert (both["invited"], both["responses"], both["positive"]) == (2, 2, 2)


def test_a_centre_admin_sees_their_own_subtree_of_a_district_survey(api, world, answered):
    mine = results(api, "a-admin", answered)  # default: a-admin's own centre
    assert (mine["institution_id"], mine["invited"], mine["responses"], mine["positive"]) == (world.a, 5, 4, 3)
    assert set(groups(mine["institutions"], "institution_id")) == {world.a, world.a1}
    clinic = results(api, "a-admin", answered, institution_id=world.a1)
    assert (clinic["invited"], clinic["responses"], clinic["positive"]) == (2, 2, 2)
    theirs = results(api, "b-admin", answered)
    assert (
        theirs["institution_id"],
        theirs["invited"],
        theirs["responses"],
        theirs["positive"],
        theirs["positive_rate"],
    ) == (world.b, 3, 2, 0, 0.0)
    # other centres' numbers are out of scope
    for query in ({"institution_id": world.b}, {"institution_id": world.district}, {"team_id": world.team_b}):
        r = api.get("a-admin", f"/api/v1/surveys/{answered['id']}/results", query_string=query)
        assert r.status_code == 404, query


def test_free_text_identity_only_for_the_district_admin(api, world, app, answered):
    k = ids(answered)
    centre = results(api, "a-admin", answered)
    texts = next(q for q in centre["questions"] if q["type"] == "text")
    # text only, sorted by the text itself: no ids, names or times to tell who wrote what
    assert texts["answers"] == [{"question_id": k["q5"], "text": "=1+1"}, {"question_id": k["q5"], "text": "服务很好"}]
    page = api.get("a-admin", f"/api/v1/surveys/{answered['id']}/questions/{k['q5']}/answers").json
    assert page["total"] == 2 and page["items"] == texts["answers"]
    for r in (
        api.get("a-admin", f"/api/v1/surveys/{answered['id']}/results"),
        api.get("b-admin", f"/api/v1/surveys/{answered['id']}/results"),
        api.get("a-admin", f"/api/v1/surveys/{answered['id']}/questions/{k['q5']}/answers"),
    ):
        raw = r.get_data(as_text=True)
        assert all(name not in raw for name in ("张丽", "居民p2", "居民p3")) and '"resident_id"' not in raw
    assert log_rows(app, world.alice, action="read") == []

    district = results(api, "admin", answered)
    shown = next(q for q in district["questions"] if q["type"] == "text")["answers"]
    assert [(a["text"], a["resident_id"], a["resident_name"], a["proxy"]) for a in shown] == [
        ("电话打不通", world.p3, "居民p3", False),
        ("=1+1", world.p2, "居民p2", False),
        ("服务很好", world.alice, "张丽", False),
    ]
    # the disclosure is on each writer's access log
    assert [(x.actor_display, x.section, x.purpose) for x in log_rows(app, world.alice, action="read")] == [
        ("区管理员", "survey_answers", "statistics")
    ]
    assert log_rows(app, world.bob, action="read") == []  # wrote no text: not disclosed
    assert district["identities_shown"] is True and centre["identities_shown"] is False


def test_who_may_see_results(api, world, app, answered):
    url = f"/api/v1/surveys/{answered['id']}"
    for who in ("a-doc", "b-doc", "a-nurse"):
        for path in ("/results", "/results.xlsx", f"/questions/{ids(answered)['q5']}/answers"):
            assert api.get(who, url + path).status_code == 403, (who, path)
    assert api.get("alice", url + "/results").status_code == 403
    # a survey of centre A: centre B's admin cannot see it at all
    own = published(api, "a-admin", world.a)
    for path in ("", "/results", "/results.xlsx"):
        r = api.get("b-admin", f"/api/v1/surveys/{own['id']}{path}")
        assert r.status_code == 404 and "张丽" not in r.get_data(as_text=True), path
    assert api.get("a-admin", f"/api/v1/surveys/{own['id']}/results").status_code == 200
    assert api.get("admin", f"/api/v1/surveys/{own['id']}/results").status_code == 200
    listed = api.get("b-admin", "/api/v1/surveys").json
    assert [s["id"] for s in listed["items"]] == [answered["id"]]  # the district's, not centre A's


def _rows(sheet):
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row, strict=False)) for row in values[1:]]


def test_xlsx_holds_the_same_numbers(api, world, app, answered):
    for who, query in (("admin", {}), ("a-admin", {}), ("admin", {"team_id": world.team_a})):
        body = results(api, who, answered, **query)
        r = api.get(who, f"/api/v1/surveys/{answered['id']}/results.xlsx", query_string=query)
        assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
        assert f"survey-{answered['id']}-results.xlsx" in r.headers["Content-Disposition"]
        book = load_workbook(BytesIO(r.data))
        assert book.sheetnames == ["Summary", "Questions", "Options", "Institutions", "Teams", "Free text"]
        summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
        assert (
            summary["Invited"],
            summary["Responses"],
            summary["Response rate"],
            summary["Positive respondents"],
            summary["Positive rate"],
            summary["Institution id"],
        ) == (
            body["invited"],
            body["responses"],
            body["response_rate"],
            body["positive"],
            body["positive_rate"],
            body["institution_id"],
        )
        assert [
            (q["question_id"], q["answered"], q["positive"], q["positive_rate"], q["mean"])
            for q in _rows(book["Questions"])
        ] == [
            (q["question_id"], q["answered"], q["positive"], q["positive_rate"], q["mean"]) for q in body["questions"]
        ]
        assert [(o["option_id"], o["count"], o["share"]) for o in _rows(book["Options"])] == [
            (o["option_id"], o["count"], o["share"]) for q in body["questions"] for o in q["options"]
        ]
        assert [
            (g["institution_id"], g["invited"], g["responses"], g["positive"], g["positive_rate"])
            for g in _rows(book["Institutions"])
        ] == [
            (g["institution_id"], g["invited"], g["responses"], g["positive"], g["positive_rate"])
            for g in body["institutions"]
        ]
        assert [(g["team_id"], g["invited"], g["responses"], g["positive"]) for g in _rows(book["Teams"])] == [
            (g["team_id"], g["invited"], g["responses"], g["positive"]) for g in body["teams"]
        ]
        texts = _rows(book["Free text"])
        shown = next(q for q in body["questions"] if q["type"] == "text")["answers"]
        assert [t["text"] for t in texts] == [safe_cell(a["text"]) for a in shown]
        if who == "admin":
            assert [t["resident_name"] for t in texts] == [a["resident_name"] for a in shown]
        else:
            assert set(texts[0]) == {"position", "question_id", "question", "text"}
    # the spreadsheet keeps a resident's "=1+1" as text, never a formula (quoted, as every export does)
    cell = next(c for row in book["Free text"].iter_rows(min_row=2) for c in row if c.value == "'=1+1")
    assert cell.data_type == "s"
    # numbers for a centre admin: their own subtree
    a_book = load_workbook(BytesIO(api.get("a-admin", f"/api/v1/surveys/{answered['id']}/results.xlsx").data))
    a_summary = {row[0]: row[1] for row in a_book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert (a_summary["Invited"], a_summary["Responses"], a_summary["Positive respondents"]) == (5, 4, 3)


def test_survey_indicators_each_resident_once(api, world, app, answered):
    """满意度 / 知晓率 are the indicators feature's (GET /indicators): each respondent once, the latest
    response decides, by the survey's own rule."""
    awareness = published(api, "admin", world.district, kind="awareness", title="知晓率调查")
    r = answer(api, "bob", awareness, sheet(awareness, q1=1, q2=[1], q3=5))
    assert r.status_code == 201
    # a second satisfaction survey of centre A: alice's later answer is unsatisfied
    later = published(api, "a-admin", world.a, title="第二次满意度调查")
    with frozen(MORNING + timedelta(hours=2)):
        assert answer(api, "alice", later, sheet(later, q1=3, q2=[3], q3=1)).status_code == 201

    def short(who, **query):
        r = api.get(who, "/api/v1/indicators", query_string={"indicator": "satisfaction,awareness", **query})
        assert r.status_code == 200, r.json
        return [
            (x["indicator"], x["numerator"], x["denominator"], x["rate"], x["met"])
            for x in r.json["rows"]
            if x["scope"] in ("total", "team")
        ]

    # each resident once, by their latest response: alice is now unsatisfied
    assert short("admin", year=2026) == [("satisfaction", 2, 6, 0.3333, False), ("awareness", 1, 1, 1.0, True)]
    assert short("a-admin", year=2026) == [("satisfaction", 2, 4, 0.5, False), ("awareness", 0, 0, None, None)]
    assert short("admin", year=2026, team_id=world.team_b) == [
        ("satisfaction", 0, 2, 0.0, False),
        ("awareness", 1, 1, 1.0, True),
    ]
    # as of the day before: nothing answered yet; nor in another year
    nothing = [("satisfaction", 0, 0, None, None), ("awareness", 0, 0, None, None)]
    assert short("admin", year=2026, as_of="2026-11-24") == nothing
    assert short("admin", year=2025) == nothing
    rows = api.get("admin", "/api/v1/indicators", query_string={"indicator": "satisfaction,awareness"}).json["rows"]
    assert [(x["label"], x["target"]) for x in rows if x["scope"] == "total"] == [("满意度", 0.9), ("知晓率", 0.9)]
