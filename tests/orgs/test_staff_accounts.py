"""Staff accounts: nobody touches an account that holds more power than they do, and
deactivating (or changing the roles of) an account ends every session it had."""

from tests.factories import PASSWORD


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, username, password=PASSWORD):
    r = client.post("/api/v1/auth/staff/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.json
    return r.json


def reads(client, token, world) -> int:
    return client.get(f"/api/v1/residents/{world.alice}", headers=bearer(token)).status_code


def refreshes(client, refresh_token) -> int:
    return client.post("/api/v1/auth/refresh", headers=bearer(refresh_token)).status_code


def district_admin_in_centre_a(api, world) -> int:
    """A district admin whose account is placed at centre A, i.e. inside centre A's admin's subtree."""
    r = api.post(
        "admin",
        "/api/v1/staff",
        json={
            "username": "d-boss",
            "name": "区里派驻",
            "password": "long-enough-pw",
            "roles": ["district_admin"],
            "institution_id": world.a,
        },
    )
    assert r.status_code == 201, r.json
    return r.json["id"]


def staff_row(api, who, staff_id) -> dict:
    return next(s for s in api.get(who, "/api/v1/staff").json if s["id"] == staff_id)


def test_institution_admin_cannot_demote_rename_or_deactivate_a_district_admin_in_its_subtree(api, world):
    boss = district_admin_in_centre_a(api, world)
    assert boss in {s["id"] for s in api.get("a-admin", "/api/v1/staff").json}  # in scope: visible
    for change in ({"roles": ["doctor"]}, {"active": False}, {"name": "改名"}, {"roles": ["district_admin", "doctor"]}):
        r = api.patch("a-admin", f"/api/v1/staff/{boss}", json=change)
        assert r.status_code == 403, (change, r.json)
        assert r.json["error"] == "forbidden" and "district_admin" in r.json["message"]
    assert staff_row(api, "admin", boss) == {
        "id": boss,
        "username": "d-boss",
        "name": "区里派驻",
        "roles": ["district_admin"],
        "institution_id": world.a,
        "active": True,
    }
    token = login(api.client, "d-boss", "long-enough-pw")["access_token"]
    assert reads(api.client, token, world) == 200
    # the district admin may
    assert api.patch("admin", f"/api/v1/staff/{boss}", json={"roles": ["institution_admin"]}).status_code == 200


def test_institution_admin_still_manages_the_accounts_below_it(api, world):
    r = api.patch(
        "a-admin", f"/api/v1/staff/{world.a_nurse}", json={"name": "李护士长", "roles": ["doctor", "team_leader"]}
    )
    assert r.status_code == 200 and r.json["roles"] == ["doctor", "team_leader"]
    # another institution admin of the same centre holds no role beyond the caller's
    peer = api.post(
        "a-admin",
        "/api/v1/staff",
        json={
            "username": "a-admin2",
            "name": "副管理员",
            "password": "long-enough-pw",
            "roles": ["institution_admin"],
            "institution_id": world.a,
        },
    )
    assert peer.status_code == 201
    assert api.patch("a-admin", f"/api/v1/staff/{peer.json['id']}", json={"active": False}).status_code == 200
    # outside the subtree stays a 404, as for a missing account
    assert api.patch("a-admin", f"/api/v1/staff/{world.b_doc}", json={"active": False}).status_code == 404
    assert api.patch("a-admin", "/api/v1/staff/99999", json={"active": False}).status_code == 404


def test_deactivation_revokes_sessions_and_reactivation_does_not_revive_them(api, world):
    first = login(api.client, "a-doc")
    second = login(api.client, "a-doc")  # a second device
    assert reads(api.client, first["access_token"], world) == 200
    assert api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"active": False}).status_code == 200
    assert api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"active": True}).status_code == 200
    for tokens in (first, second):
        after = api.client.get(f"/api/v1/residents/{world.alice}", headers=bearer(tokens["access_token"]))
        assert after.status_code == 401 and after.json["error"] == "token_revoked"
        assert refreshes(api.client, tokens["refresh_token"]) == 401
    fresh = login(api.client, "a-doc")
    assert reads(api.client, fresh["access_token"], world) == 200
    assert refreshes(api.client, fresh["refresh_token"]) == 200
    # the admin's own session was not touched
    assert api.get("a-admin", "/api/v1/staff").status_code == 200


def test_a_role_change_ends_the_sessions_that_carry_the_old_roles(api, world):
    old = login(api.client, "a-doc")
    other = login(api.client, "a-nurse")
    assert api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"roles": ["doctor"]}).status_code == 200
    assert reads(api.client, old["access_token"], world) == 401
    assert refreshes(api.client, old["refresh_token"]) == 401
    assert reads(api.client, other["access_token"], world) == 200  # only that account's sessions
    # a rename changes no power: the sessions stay
    kept = login(api.client, "a-doc")
    assert api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"name": "王大夫"}).status_code == 200
    assert api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"roles": ["doctor"]}).status_code == 200
    assert reads(api.client, kept["access_token"], world) == 200
