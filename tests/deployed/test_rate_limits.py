"""Finding 4: the configured limits hold on gunicorn with 2 workers, behind a reverse proxy.

The API under test runs the operator's defaults: ``LOGIN_RATE_LIMIT=10 per minute`` per client
address, ``LOGIN_USER_FAILURE_LIMIT=20 per hour`` per username (a known device is exempt),
``BIND_TARGET_RATE_LIMIT=10 per day`` per archive named, and ``TRUSTED_PROXY_HOPS=1``: the
tests play the proxy and send ``X-Forwarded-For``. Every scenario uses addresses of its own
(TEST-NET), so the budgets of one do not spill into another. Accounts and archives are made
through the setup API, whose limits are out of the way.
"""

import itertools
import time
from collections import Counter

import pytest

from tests.deployed.conftest import DEMO_PASSWORD, make_id_number, register_resident, staff_login, wechat_login

_hosts = itertools.count(1)


def address() -> str:
    """A client address no other scenario uses (198.18.0.0/15, for benchmarks and tests)."""
    n = next(_hosts)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def statuses(responses) -> Counter:
    return Counter(r.status_code for r in responses)


def assert_rate_limited(response):
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "rate_limited" and body["code"] == 429, body
    assert int(response.headers["Retry-After"]) > 0


def away_from_minute_boundary():
    """A fixed one-minute window may start on the minute: do not straddle it."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_wechat_logins_per_address_are_counted_across_workers(deployment):
    away_from_minute_boundary()
    phone = deployment.client(forwarded_for=address())
    answers = [wechat_login(phone, f"o-burst-{n}", fresh=True) for n in range(20)]
    assert statuses(answers) == {200: 10, 429: 10}
    assert_rate_limited(answers[-1])


def test_phones_behind_the_proxy_are_told_apart(deployment):
    answers = [wechat_login(deployment.client(forwarded_for=address()), f"o-crowd-{n}", fresh=True) for n in range(30)]
    assert statuses(answers) == {200: 30}


def test_password_spraying_from_one_address_is_stopped(deployment):
    away_from_minute_boundary()
    sprayer = deployment.client(forwarded_for=address())
    answers = [
        sprayer.post("/api/v1/auth/staff/login", fresh=True, json={"username": f"spray-{n:02d}", "password": "123456"})
        for n in range(40)
    ]
    counted = statuses(answers)
    assert set(counted) <= {401, 429} and counted[401] <= 10, counted
    assert_rate_limited(answers[-1])


def test_an_attacker_cannot_lock_the_real_user_out(deployment):
    user = "hc01-ph01"  # nobody else in the deployed layer logs in as this user
    office = address()
    device_token = staff_login(deployment.client(forwarded_for=office), user).get("device_token")
    known_device = {"device_token": device_token} if device_token else {}

    # 30 wrong passwords from the office's own address (a shared NAT, or a colleague's malware).
    attacker = deployment.client(forwarded_for=office)
    for _ in range(30):
        assert attacker.post(
            "/api/v1/auth/staff/login", fresh=True, json={"username": user, "password": "wrong-password"}
        ).status_code in (401, 429)
    again = deployment.client(forwarded_for=office).post(
        "/api/v1/auth/staff/login", json={"username": user, "password": DEMO_PASSWORD, **known_device}
    )
    assert again.status_code == 200, f"{again.status_code} {again.text} (device token given: {bool(device_token)})"

    # A distributed attack on the username: one wrong password from each of 30 addresses.
    spread = [
        deployment.client(forwarded_for=address()).post(
            "/api/v1/auth/staff/login", json={"username": user, "password": "wrong-password"}
        )
        for _ in range(30)
    ]
    assert 429 in statuses(spread), statuses(spread)
    # Past LOGIN_USER_FAILURE_LIMIT a new device is refused even with the right password …
    stranger = deployment.client(forwarded_for=address()).post(
        "/api/v1/auth/staff/login", json={"username": user, "password": DEMO_PASSWORD}
    )
    assert_rate_limited(stranger)
    # … while the user's own device still gets in, from anywhere.
    own = deployment.client(forwarded_for=address()).post(
        "/api/v1/auth/staff/login", json={"username": user, "password": DEMO_PASSWORD, **known_device}
    )
    assert own.status_code == 200, own.text


def test_the_access_log_records_the_forwarded_address(deployment, setup, doctor):
    resident = register_resident(setup, doctor, "代理")
    staff = staff_login(deployment.client(forwarded_for=address()), "hc01-doc01")
    read = deployment.client().get(
        f"/api/v1/residents/{resident.id}/archive",
        token=staff["access_token"],
        headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "198.51.100.1"},
    )
    assert read.status_code == 200, read.text
    rows = deployment.sql(
        "SELECT client_ip FROM access_log WHERE subject_resident_id = :rid AND action = 'read' ORDER BY id",
        rid=resident.id,
    )
    assert [r["client_ip"] for r in rows] == ["203.0.113.7"]


def test_binding_guesses_are_limited_per_target_across_accounts(deployment, setup, doctor):
    target = register_resident(setup, doctor, "靶子")
    answers = []
    for n in range(11):
        account = wechat_login(setup, f"o-guess-{n}-{target.id}")
        assert account.status_code == 200, account.text
        guesser = deployment.client(forwarded_for=address())
        answers.append(
            guesser.post(
                "/api/v1/auth/wechat/bind",
                token=account.json()["access_token"],
                json={"name": target.name, "id_number": make_id_number(9000 + n)},
            )
        )
    assert [a.status_code for a in answers[:10]] == [404] * 10, [a.text for a in answers]
    assert_rate_limited(answers[10])


@pytest.fixture(autouse=True)
def _alive(deployment):
    yield
    deployment.check_alive()
