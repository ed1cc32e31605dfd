"""Archives' basic sheet: creation, scoping, masking, the access log."""

from sqlalchemy import select, text

from app.audit.models import AccessLog
from app.extensions import db

NEW = {"name": "孙悦", "id_number": "11010519491231002X", "phone": "13700001234", "address": "环翠区新路1号"}


def log_rows(app, resident_id):
    with app.app_context():
        return db.session.scalars(
            select(AccessLog).where(AccessLog.subject_resident_id == resident_id).order_by(AccessLog.id)
        ).all()


def test_staff_creates_archive_with_derived_sex_and_birth(api, world, app):
    r = api.post(
        "a-doc",
        "/api/v1/residents",
        json={
            **NEW,
            "institution_id": world.a1,
            "conditions": [{"disease": "hypertension", "diagnosed_on": "2023-04-01"}],
        },
    )
    assert r.status_code == 201, r.json
    body = r.json
    assert body["sex"] == "female" and body["birth_on"] == "1949-12-31"
    assert body["id_number"] == "110105************"  # the area code only: see tests/residents/test_privacy_masking.py
    assert body["phone"] == "137****1234"
    assert body["archive_no"].startswith("HC01-01")
    assert "hypertension" in body["populations"] and "elderly" in body["populations"]
    assert [(row.action, row.purpose) for row in log_rows(app, body["id"])] == [("create", "registration")]


def test_no_plain_id_number_in_the_database(api, world, app):
    api.post("a-doc", "/api/v1/residents", json={**NEW, "institution_id": world.a})
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM residents")).all()
    dump = repr(rows)
    assert NEW["id_number"] not in dump and world.numbers["alice"] not in dump
    assert "1949123" not in dump  # not even the birth-date part of the number


def test_duplicate_id_number_is_409(api, world):
    first = api.post("a-doc", "/api/v1/residents", json={**NEW, "institution_id": world.a})
    assert first.status_code == 201
    again = api.post("a-doc", "/api/v1/residents", json={**NEW, "name": "别人", "institution_id": world.a})
    assert again.status_code == 409


def test_create_outside_scope_is_refused_and_writes_nothing(api, world, app):
    r = api.post("a-doc", "/api/v1/residents", json={**NEW, "institution_id": world.b})
    assert r.status_code == 422 and "institution_id" in r.json["errors"]
    bad = api.post(
        "a-doc", "/api/v1/residents", json={**NEW, "id_number": "110105194912310021", "institution_id": world.a}
    )
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM residents")) == 4


def test_staff_read_is_logged_with_actor_and_institution(api, world, app):
    r = api.get("a-doc", f"/api/v1/residents/{world.alice}")
    assert r.status_code == 200
    assert r.json["phone"] == "138****5678"
    rows = log_rows(app, world.alice)
    assert [(x.actor_kind, x.actor_display, x.institution_id, x.action) for x in rows] == [
        ("staff", "王医生", world.a, "read")
    ]


def test_resident_reads_self_but_not_another(api, world):
    own = api.get("alice", f"/api/v1/residents/{world.alice}")
    assert own.status_code == 200 and own.json["phone"] == "13812345678"
    other = api.get("alice", f"/api/v1/residents/{world.bob}")
    assert other.status_code == 404
    assert world.names["bob"] not in other.get_data(as_text=True)


def test_sibling_institution_staff_get_404_without_personal_data(api, world, app):
    r = api.get("b-doc", f"/api/v1/residents/{world.alice}")
    assert r.status_code == 404
    text_ = r.get_data(as_text=True)
    assert world.names["alice"] not in text_ and "138" not in text_
    assert log_rows(app, world.alice) == []
    patch = api.patch("b-doc", f"/api/v1/residents/{world.alice}", json={"address": "x"})
    assert patch.status_code == 404


def test_subtree_and_district_scope(api, world):
    # centre A's staff see the clinic A1's resident (their subtree); the district admin sees all
    assert api.get("a-doc", f"/api/v1/residents/{world.grandpa}").status_code == 200
    assert api.get("admin", f"/api/v1/residents/{world.bob}").status_code == 200


def test_list_is_scoped_filtered_and_paginated(api, world, app):
    r = api.get("a-doc", "/api/v1/residents?per_page=2")
    assert r.status_code == 200
    assert r.json["total"] == 3 and len(r.json["items"]) == 2 and r.json["per_page"] == 2
    names = {i["name"] for i in api.get("a-doc", "/api/v1/residents?per_page=100").json["items"]}
    assert world.names["bob"] not in names
    htn = api.get("a-doc", "/api/v1/residents?population=hypertension").json
    assert [i["id"] for i in htn["items"]] == [world.grandpa]
    elderly = api.get("admin", "/api/v1/residents?population=elderly").json
    assert [i["id"] for i in elderly["items"]] == [world.grandpa]
    children = api.get("admin", "/api/v1/residents?population=children_0_6").json
    assert [i["id"] for i in children["items"]] == [world.child]
    by_number = api.post("admin", "/api/v1/residents/lookup", json={"id_number": world.numbers["bob"]}).json
    assert by_number["id"] == world.bob
    assert api.get("a-doc", "/api/v1/residents?per_page=500").status_code == 422
    assert api.get("a-doc", f"/api/v1/residents?team_id={world.team_b}").status_code == 404
    # each listed archive was logged as read
    assert any(x.section == "basic_info_list" for x in log_rows(app, world.alice))


def test_patch_changes_sheet_and_logs(api, world, app):
    r = api.patch("a-doc", f"/api/v1/residents/{world.alice}", json={"address": "环翠区新址9号", "status": "moved"})
    assert r.status_code == 200 and r.json["address"] == "环翠区新址9号" and r.json["status"] == "moved"
    assert api.patch("a-doc", f"/api/v1/residents/{world.alice}", json={"sex": "male"}).status_code == 422
    assert api.patch("a-doc", f"/api/v1/residents/{world.alice}", json={"team_id": world.team_b}).status_code == 422
    assert ("update", "basic_info") in [(x.action, x.section) for x in log_rows(app, world.alice)]


def test_me_before_binding(client, world, wechat_sandbox):
    token = client.post("/api/v1/auth/wechat/login", json={"code": "newbie:1"}).json["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["resident"] is None and me.json["account"]["bound"] is False


def test_staff_cannot_use_resident_only_me(api, world):
    assert api.get("a-doc", "/api/v1/me").status_code == 403
