"""The guessing budgets of staff login and archive claiming (in process; the deployed layer
checks the same across gunicorn workers).

The testing configuration allows 5 failed logins per minute per address
(``TEST_LOGIN_RATE_LIMIT``); the other budgets are the defaults: 20 failures per hour per
username, 10 failed claims per hour per WeChat account and 10 per day per target.
"""

from __future__ import annotations

import uuid

from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/staff/login"


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _login(client, username, password, address="203.0.113.1", **extra):
    return client.post(LOGIN, json={"username": username, "password": password, **extra}, **_from(address))


def test_spraying_usernames_from_one_address_is_stopped(client, world):
    codes = [_login(client, f"user-{n}", "guess-123").status_code for n in range(12)]
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}
    refused = _login(client, "user-99", "guess-123")
    assert refused.json["error"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    # another address is not affected
    assert _login(client, "a-doc", PASSWORD, "203.0.113.2").status_code == 200


def test_a_guesser_with_many_addresses_is_stopped_per_username(client, world):
    codes = [_login(client, "a-doc", "guess-123", f"198.51.100.{n}").status_code for n in range(1, 23)]
    assert codes[:20] == [401] * 20
    assert codes[20:] == [429, 429]
    # a right password from a device that never logged in is refused too while the budget is spent
    assert _login(client, "a-doc", PASSWORD, "198.51.100.77").status_code == 429


def test_the_real_user_is_never_locked_out_from_their_device(client, world):
    first = _login(client, "a-doc", PASSWORD, "203.0.113.5")
    assert first.status_code == 200
    device_token = first.json["device_token"]
    # an attacker spends both budgets: the address's (same address as the user) and the username's
    for n in range(25):
        _login(client, "a-doc", "guess-123", "203.0.113.5" if n < 6 else f"198.51.100.{n}")
    assert _login(client, "a-doc", PASSWORD, "203.0.113.5").status_code == 429
    again = _login(client, "a-doc", PASSWORD, "203.0.113.5", device_token=device_token)
    assert again.status_code == 200 and again.json["access_token"]


def test_a_device_token_of_another_user_or_forged_exempts_nothing(client, world):
    other = _login(client, "b-doc", PASSWORD, "203.0.113.9").json["device_token"]
    for _ in range(5):
        _login(client, "a-doc", "guess-123", "203.0.113.6")
    assert _login(client, "a-doc", PASSWORD, "203.0.113.6", device_token=other).status_code == 429
    assert _login(client, "a-doc", PASSWORD, "203.0.113.6", device_token=other[:-2] + "xx").status_code == 429


def test_a_stolen_device_token_still_has_a_budget(client, world):
    token = _login(client, "a-doc", PASSWORD).json["device_token"]
    codes = [
        _login(client, "a-doc", "guess-123", f"198.51.100.{n}", device_token=token).status_code for n in range(1, 8)
    ]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


def _wechat(client, address="203.0.113.20"):
    r = client.post("/api/v1/auth/wechat/login", json={"code": f"{uuid.uuid4().hex[:12]}:1"}, **_from(address))
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def test_new_wechat_accounts_do_not_reset_the_budget_for_a_target(client, world, wechat_sandbox):
    name = world.names["alice"]
    real = world.numbers["alice"]
    codes = []
    for n in range(11):
        # every attempt from a fresh account (and address), guessing a number for the same name
        headers = _wechat(client, f"198.51.100.{n + 1}")
        guess = real[:14] + f"{(n * 7) % 1000:03d}"
        from app.common.ids import check_char

        guess += check_char(guess)
        if guess == real:
            continue
        r = client.post(
            "/api/v1/auth/wechat/bind",
            headers=headers,
            json={"name": name, "id_number": guess},
            **_from(f"198.51.100.{n + 1}"),
        )
        codes.append(r.status_code)
    assert codes[:10] == [404] * 10
    assert codes[10:] == [429]
    # the real person can still bind with the right number? Not today: the name's budget is spent,
    # which is the price of stopping the guesser; they bind tomorrow or at the clinic.
    headers = _wechat(client, "203.0.113.40")
    assert (
        client.post(
            "/api/v1/auth/wechat/bind", headers=headers, json={"name": name, "id_number": real}, **_from("203.0.113.40")
        ).status_code
        == 429
    )


def test_binding_and_family_requests_share_one_budget_per_account(client, world, wechat_sandbox, api):
    headers = api.as_("bob")  # bound already
    wrong = {"name": "不存在", "id_number": world.numbers["alice"], "relation": "spouse"}
    codes = [
        client.post("/api/v1/me/family", headers=headers, json={**wrong, "name": f"不存在{n}"}).status_code
        for n in range(10)
    ]
    assert codes == [404] * 10
    # the eleventh guess by the same account, now through binding, is refused
    r = client.post(
        "/api/v1/auth/wechat/bind", headers=headers, json={"name": "又一个", "id_number": world.numbers["child"]}
    )
    assert r.status_code == 429


def test_a_bad_checksum_costs_no_guess(client, world, wechat_sandbox):
    headers = _wechat(client)
    for _ in range(12):
        r = client.post(
            "/api/v1/auth/wechat/bind",
            headers=headers,
            json={"name": world.names["alice"], "id_number": "110101199001011234"},
        )
        assert r.status_code == 422 and "id_number" in r.json["errors"]
    ok = client.post(
        "/api/v1/auth/wechat/bind",
        headers=headers,
        json={"name": world.names["alice"], "id_number": world.numbers["alice"]},
    )
    assert ok.status_code == 200
