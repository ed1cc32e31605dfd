"""Logging in with WeChat and as staff, binding, refreshing and logging out."""

from sqlalchemy import select

from tests.factories import PASSWORD


def wechat_login(client, code):
    return client.post("/api/v1/auth/wechat/login", json={"code": code})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_wechat_login_issues_tokens_and_keeps_session_key_on_server(client, world, wechat_sandbox):
    r = wechat_login(client, "alice:abc")
    assert r.status_code == 200
    body = r.json
    assert body["account"] == {"id": body["account"]["id"], "bound": False, "resident_id": None}
    assert body["access_token"] and body["refresh_token"]
    assert "session_key" not in r.get_data(as_text=True)


def test_same_openid_logs_into_the_same_account(client, world, wechat_sandbox):
    first = wechat_login(client, "alice:1").json["account"]["id"]
    second = wechat_login(client, "alice:2").json["account"]["id"]
    assert first == second


def test_reused_and_bad_codes_are_refused(client, world, wechat_sandbox):
    assert wechat_login(client, "alice:once").status_code == 200
    reused = wechat_login(client, "alice:once")
    assert reused.status_code == 401
    assert reused.json["error"] == "wechat_code_invalid"
    bad = wechat_login(client, "garbage")
    assert bad.status_code == 401 and bad.json["error"] == "wechat_code_invalid"


def test_wechat_down_is_a_503_not_a_500(client, world, wechat_sandbox):
    wechat_sandbox.fault("/sns/jscode2session", http_status=502)
    r = wechat_login(client, "alice:x")
    assert r.status_code == 503 and r.json["error"] == "wechat_unavailable"


def test_bind_matches_name_and_id_number(client, world, wechat_sandbox):
    token = wechat_login(client, "alice:1").json["access_token"]
    r = client.post(
        "/api/v1/auth/wechat/bind",
        headers=bearer(token),
        json={"name": world.names["alice"], "id_number": world.numbers["alice"]},
    )
    assert r.status_code == 200
    resident = r.json["resident"]
    assert resident["id"] == world.alice
    assert resident["id_number"] == world.numbers["alice"]  # the resident's own sheet: in full
    me = client.get("/api/v1/me", headers=bearer(token)).json
    assert me["account"]["bound"] is True and me["resident"]["id"] == world.alice
    assert me["resident"]["phone"] == "13812345678"  # the owner sees their own phone


def test_bind_unknown_wrong_name_bad_checksum_and_taken(client, world, wechat_sandbox):
    token = wechat_login(client, "mallory:1").json["access_token"]
    number = world.numbers["alice"]
    wrong_name = client.post(
        "/api/v1/auth/wechat/bind", headers=bearer(token), json={"name": "王五", "id_number": number}
    )
    assert wrong_name.status_code == 404 and wrong_name.json["error"] == "archive_not_found"
    unknown = client.post(
        "/api/v1/auth/wechat/bind", headers=bearer(token), json={"name": "王五", "id_number": "11010519491231002X"}
    )
    assert unknown.status_code == 404 and unknown.json["error"] == "archive_not_found"
    bad = client.post(
        "/api/v1/auth/wechat/bind", headers=bearer(token), json={"name": "王五", "id_number": "110105194912310021"}
    )
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]
    # alice binds first; mallory then cannot take her archive
    alice = wechat_login(client, "alice:1").json["access_token"]
    assert (
        client.post(
            "/api/v1/auth/wechat/bind", headers=bearer(alice), json={"name": world.names["alice"], "id_number": number}
        ).status_code
        == 200
    )
    taken = client.post(
        "/api/v1/auth/wechat/bind", headers=bearer(token), json={"name": world.names["alice"], "id_number": number}
    )
    assert taken.status_code == 409 and taken.json["error"] == "archive_already_bound"


def test_bind_with_wechat_phone_code(client, world, wechat_sandbox, app):
    token = wechat_login(client, "alice:1").json["access_token"]
    r = client.post(
        "/api/v1/auth/wechat/bind",
        headers=bearer(token),
        json={"name": world.names["alice"], "id_number": world.numbers["alice"], "phone_code": "phone:13900001111"},
    )
    assert r.status_code == 200
    from app.accounts.models import WechatAccount
    from app.extensions import db

    with app.app_context():
        account = db.session.scalar(select(WechatAccount).where(WechatAccount.openid == "alice"))
        assert account.phone == "13900001111"


def test_staff_login_wrong_password_and_unknown_user_answer_alike(client, world):
    wrong = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/staff/login", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    ok = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.json["staff"]["roles"] == ["doctor", "team_leader"]
    assert ok.json["staff"]["team_ids"] == [world.team_a]


def test_staff_login_is_rate_limited(client, world):
    codes = [
        client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": "wrong-pass"}).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [401] * 5
    assert codes[-1] == 429
    last = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD})
    assert last.status_code == 429 and last.json["error"] == "rate_limited"


def test_refresh_gives_a_working_access_token(client, world):
    tokens = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD}).json
    r = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert r.status_code == 200
    assert client.get(f"/api/v1/residents/{world.alice}", headers=bearer(r.json["access_token"])).status_code == 200
    # an access token is not a refresh token
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"])).status_code == 401


def test_logout_kills_both_tokens(client, world):
    tokens = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD}).json
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    after = client.get(f"/api/v1/residents/{world.alice}", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401 and after.json["error"] == "token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_deactivated_staff_token_stops_working(api, world):
    token_headers = api.as_("a-doc")
    assert api.client.get(f"/api/v1/residents/{world.alice}", headers=token_headers).status_code == 200
    r = api.patch("a-admin", f"/api/v1/staff/{world.a_doc}", json={"active": False})
    assert r.status_code == 200 and r.json["active"] is False
    assert api.client.get(f"/api/v1/residents/{world.alice}", headers=token_headers).status_code == 401
