"""Finding a resident by ID number without the number travelling in a URL.

Query strings end up in access logs (gunicorn prints them), so ``GET /residents?q=`` refuses
anything shaped like an ID number and staff look numbers up with
``POST /api/v1/residents/lookup {"id_number"}``: scoped like ``GET /residents/{rid}`` (out of
scope is the same 404 as no such number), answered masked, logged like a read of the sheet.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AccessLog
from app.common.ids import make_id_number
from app.extensions import db
from tests.access import matrix_helpers as mx
from tests.archive.helpers import (
    fresh_id_sequence,  # noqa: F401  (autouse)
    log_rows,
)

LOOKUP = "/api/v1/residents/lookup"


def missing_number() -> str:
    """A well-formed number (checksum right) that no archive carries."""
    from datetime import date

    return make_id_number("371002", date(1966, 6, 6), 555)


def test_staff_in_scope_find_a_resident_masked_and_logged(api, world, app):
    r = api.post("a-doc", LOOKUP, json={"id_number": world.numbers["grandpa"]})
    assert r.status_code == 200, r.json
    assert r.json["id"] == world.grandpa and r.json["name"] == world.names["grandpa"]
    assert r.json["id_number"] == "371002" + "*" * 12 and r.json["phone"] == "138****5678"
    assert world.numbers["grandpa"] not in r.get_data(as_text=True)
    assert len(log_rows(app, world.grandpa)) == 1
    # the lookup's access-log row is the one GET /residents/{rid} writes
    api.get("a-doc", f"/api/v1/residents/{world.grandpa}")
    looked_up, read = [
        (x.actor_kind, x.actor_display, x.institution_id, x.action, x.section, x.purpose)
        for x in log_rows(app, world.grandpa)
    ]
    assert looked_up == read and looked_up[:5] == ("staff", "王医生", world.a, "read", "basic_info")


def test_the_number_is_read_as_everywhere_else(api, world):
    assert api.post("admin", LOOKUP, json={"id_number": f"  {world.numbers['alice']} "}).json["id"] == world.alice
    created = api.post(
        "a-doc",
        "/api/v1/residents",
        json={"name": "孙悦", "id_number": "11010519491231002X", "institution_id": world.a},
    ).json
    found = api.post("a-doc", LOOKUP, json={"id_number": "11010519491231002x"})
    assert found.status_code == 200 and found.json["id"] == created["id"]


def test_a_bad_number_is_422_naming_id_number_and_writes_nothing(api, world, app):
    wrong = world.numbers["bob"][:17] + ("0" if world.numbers["bob"][17] != "0" else "1")
    for body in (
        {"id_number": wrong},
        {"id_number": "12345"},
        {},
        {"id_number": ""},
        {"id_number": world.numbers["bob"], "name": "刘强"},
    ):
        r = api.post("admin", LOOKUP, json=body)
        assert r.status_code == 422, (body, r.json)
        assert r.json["error"] == "validation_error"
        field = "name" if "name" in body else "id_number"
        assert field in r.json["errors"], (body, r.json)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 0


def test_a_missing_number_and_another_centres_resident_are_the_same_404(api, world, app):
    missing = api.post("b-doc", LOOKUP, json={"id_number": missing_number()})
    other = api.post("b-doc", LOOKUP, json={"id_number": world.numbers["alice"]})
    assert missing.status_code == other.status_code == 404
    assert other.json == missing.json
    text = other.get_data(as_text=True)
    assert world.names["alice"] not in text and "138" not in text
    assert log_rows(app, world.alice) == []


def test_residents_and_anonymous_callers_cannot_look_up(api, world, client):
    r = api.post("alice", LOOKUP, json={"id_number": world.numbers["grandpa"]})
    assert r.status_code == 403 and world.names["grandpa"] not in r.get_data(as_text=True)
    assert client.post(LOOKUP, json={"id_number": world.numbers["grandpa"]}).status_code == 401


# --- the access-control matrix's actors on the lookup -------------------------------------------
# The matrix (tests/access/test_access_matrix.py) addresses objects by path or query; the lookup names
# its resident in the body, so its row is checked here with the matrix's scene and checks.

EXPECTED = {
    "self": 403,
    "peer": 403,
    "far": 403,
    "fam": 403,
    "kin": 403,
    "doc": 200,
    "doc2": 200,
    "sib": 404,
    "iadm": 200,
    "oadm": 404,
    "dadm": 200,
    "anon": 401,
    "exp": 401,
    "rev": 401,
}


def test_every_kind_of_caller_on_the_lookup(app, client, wechat_sandbox):
    assert set(EXPECTED) == set(mx.ACTORS)
    scene = mx.build_scene(app, client)
    scene.tokens["exp"] = mx.token_for(scene, "doc", expired=True)
    scene.tokens["rev"] = mx.token_for(scene, "doc", revoked=True)
    body = {"id_number": scene.ids["subject_number"]}
    problems = []
    before = mx.fingerprint(app)
    for actor in [a for a in mx.ACTORS if not mx.is_allowed(EXPECTED[a])]:
        r = scene.request(actor, "POST", LOOKUP, json_body=body)
        text = r.get_data(as_text=True)
        if r.status_code != EXPECTED[actor]:
            problems.append(f"{actor}: expected {EXPECTED[actor]}, got {r.status_code} {text[:160]}")
        error = r.get_json(silent=True) or {}
        if (code := mx.DENIAL_ERRORS.get(r.status_code, {}).get(actor)) and error.get("error") != code:
            problems.append(f"{actor}: expected error {code!r}, got {error.get('error')!r}")
        if found := mx.leaked(text, scene.markers):
            problems.append(f"{actor}: the {r.status_code} body leaks {found}")
        if r.status_code == 404:
            missing = scene.request(actor, "POST", LOOKUP, json_body={"id_number": missing_number()})
            if (missing.status_code, missing.get_json(silent=True)) != (404, error):
                problems.append(f"{actor}: out of scope differs from a missing number: {text[:120]}")
    if mx.fingerprint(app) != before:
        problems.append("a denied lookup changed the database")
    for actor in [a for a in mx.ACTORS if mx.is_allowed(EXPECTED[a])]:
        r = scene.request(actor, "POST", LOOKUP, json_body=body)
        if r.status_code != 200 or r.json["id"] != scene.ids["subject"]:
            problems.append(f"{actor}: expected the subject, got {r.status_code} {r.get_data(as_text=True)[:160]}")
        elif scene.ids["subject_number"] in r.get_data(as_text=True):
            problems.append(f"{actor}: the number is shown in full")
    assert not problems, "\n  ".join(problems)


# --- the list refuses ID numbers in its query string ---------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "371002195008011071",  # 18 characters
        "37100219500801107X",  # a trailing X (checksum not even right: the shape is enough)
        "37100219500801107x",
        "371002500801107",  # the old 15-digit number
        "张建国371002195008011071",  # a run of 15 or more digits anywhere
        "3710021950080110712345",
        " 371002195008011071 ",
        "371002 19500801 1071",  # typed with separators
        "371002-19500801-1071",
        "３７１００２１９５００８０１１０７１",  # full-width digits, as a Chinese input method types them
    ],
)
def test_the_list_refuses_an_id_number_in_the_url(api, world, app, q):
    r = api.get("admin", "/api/v1/residents", query_string={"q": q})
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]) == ["q"]
    assert "POST /api/v1/residents/lookup" in r.json["errors"]["q"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 0


def test_the_list_still_searches_names_and_archive_numbers(api, world):
    by_name = api.get("admin", "/api/v1/residents", query_string={"q": "张"}).json
    assert {i["id"] for i in by_name["items"]} == {world.alice, world.child, world.grandpa}
    archive_no = api.get("admin", f"/api/v1/residents/{world.bob}").json["archive_no"]
    by_archive = api.get("admin", "/api/v1/residents", query_string={"q": archive_no}).json
    assert [i["id"] for i in by_archive["items"]] == [world.bob]
    # short digit runs (a house number, part of an archive number) are not ID-shaped
    assert api.get("admin", "/api/v1/residents", query_string={"q": "12345678901234"}).status_code == 200


def test_the_lookup_is_documented(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/v1/residents/lookup"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert body["required"] == ["id_number"] and set(body["properties"]) == {"id_number"}
    q = next(p for p in spec["paths"]["/api/v1/residents"]["get"]["parameters"] if p["name"] == "q")
    assert "POST /api/v1/residents/lookup" in q.get("description", "")
