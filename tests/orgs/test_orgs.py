"""Institutions, teams and staff, scoped to the subtree."""


def test_tree_is_scoped(api, world):
    full = api.get("admin", "/api/v1/institutions").json
    assert len(full) == 1 and {c["code"] for c in full[0]["children"]} == {"HC01", "HC02"}
    mine = api.get("a-doc", "/api/v1/institutions").json
    assert [n["code"] for n in mine] == ["HC01"] and [c["code"] for c in mine[0]["children"]] == ["HC01-01"]


def test_district_admin_creates_institution_with_valid_parent(api, world):
    ok = api.post(
        "admin",
        "/api/v1/institutions",
        json={"code": "HC01-02", "name": "鲸园第二站", "kind": "community_health_station", "parent_id": world.a},
    )
    assert ok.status_code == 201 and ok.json["level"] == 4 and ok.json["parent_id"] == world.a
    wrong = api.post(
        "admin",
        "/api/v1/institutions",
        json={"code": "X9", "name": "x", "kind": "village_clinic", "parent_id": world.district},
    )
    assert wrong.status_code == 422 and "parent_id" in wrong.json["errors"]
    dup = api.post(
        "admin",
        "/api/v1/institutions",
        json={"code": "HC01-02", "name": "again", "kind": "community_health_station", "parent_id": world.a},
    )
    assert dup.status_code == 409


def test_teams_and_staff(api, world):
    teams = api.get("a-doc", f"/api/v1/teams?institution_id={world.a}").json
    assert {t["name"] for t in teams} == {"鲸园一队", "鲸园二队"}
    team_a = next(t for t in teams if t["id"] == world.team_a)
    assert team_a["leader"]["name"] == "王医生"
    assert api.get("a-doc", f"/api/v1/teams/{world.team_b}").status_code == 404
    staff = api.post(
        "a-admin",
        "/api/v1/staff",
        json={
            "username": "a-new",
            "name": "新医生",
            "password": "long-enough-pw",
            "roles": ["doctor"],
            "institution_id": world.a1,
        },
    )
    assert staff.status_code == 201 and "password" not in staff.json
    created = api.post(
        "a-admin",
        "/api/v1/teams",
        json={
            "name": "站点队",
            "institution_id": world.a1,
            "members": [{"staff_id": staff.json["id"], "role": "leader_gp"}],
        },
    )
    assert created.status_code == 201 and created.json["leader"]["staff_id"] == staff.json["id"]
    outside = api.post(
        "a-admin",
        "/api/v1/staff",
        json={
            "username": "b-new",
            "name": "x",
            "password": "long-enough-pw",
            "roles": ["doctor"],
            "institution_id": world.b,
        },
    )
    assert outside.status_code == 422
    escalate = api.post(
        "a-admin",
        "/api/v1/staff",
        json={
            "username": "boss",
            "name": "x",
            "password": "long-enough-pw",
            "roles": ["district_admin"],
            "institution_id": world.a,
        },
    )
    assert escalate.status_code == 403
    assert api.patch("a-admin", f"/api/v1/staff/{world.b_doc}", json={"active": False}).status_code == 404
    listed = {s["username"] for s in api.get("a-admin", "/api/v1/staff").json}
    assert "b-doc" not in listed and "a-doc" in listed
