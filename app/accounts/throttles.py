"""Guessing budgets: staff passwords and the name + ID number that claim an archive.

Both are online guessing attacks, so both count failures in the shared rate-limit storage
(``app.common.rate_limits``: every worker and process sees the same counters) and refuse
with 429 before any work once a budget is spent.

Staff login (the policy the README names):
- per client address, ``LOGIN_RATE_LIMIT`` failures across all usernames (password spraying
  from one address; each refused attempt costs no password hash);
- per username, ``LOGIN_USER_FAILURE_LIMIT`` failures across all addresses (a guesser with
  many addresses);
- a device that logged in as that user before sends the ``device_token`` it was given and
  is exempt from both, with a budget of its own (``LOGIN_RATE_LIMIT`` failures per device).
  So an attacker who spends a user's budgets cannot lock that user out of their own phone
  (the device-cookie defence of OWASP's authentication guidance).

Claiming an archive (binding, family requests): ``BIND_RATE_LIMIT`` failures per WeChat
account, and ``BIND_TARGET_RATE_LIMIT`` failures per target — the ID number given and the
name given — across all accounts, so a fresh WeChat account does not start afresh.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse

from app.common.ids import IdNumberError, parse_id_number, vault
from app.errors import Invalid, NotFound, RateLimited
from app.extensions import limiter

DEVICE_TOKEN_DAYS = 180
_NAMESPACE = "guess"


def _limit(setting: str):
    return parse(current_app.config[setting])


def _refuse_if_spent(budgets) -> None:
    strategy = limiter.limiter
    for setting, key in budgets:
        item = _limit(setting)
        if not strategy.test(item, _NAMESPACE, key):
            reset_at = strategy.get_window_stats(item, _NAMESPACE, key).reset_time
            raise RateLimited(reset_at - time.time())


def _spend(budgets) -> None:
    for setting, key in budgets:
        limiter.limiter.hit(_limit(setting), _NAMESPACE, key)


def _digest(value: str) -> str:
    # Keys are stored: never a name, a username or an ID number in clear.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


# --- staff login ------------------------------------------------------------


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="staff-login-device")


def new_device_token(staff_id: int) -> str:
    return _devices().dumps({"s": staff_id, "d": secrets.token_hex(8)})


def _device_of(token: str | None, staff_id: int | None) -> str | None:
    """The device id when ``token`` was issued to ``staff_id`` and has not expired."""
    if not token or staff_id is None:
        return None
    try:
        claims = _devices().loads(token, max_age=DEVICE_TOKEN_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(claims, dict) or claims.get("s") != staff_id:
        return None
    return str(claims.get("d"))


def login_budgets(username: str, staff_id: int | None, device_token: str | None):
    device = _device_of(device_token, staff_id)
    if device is not None:
        return [("LOGIN_RATE_LIMIT", f"login-device:{device}")]
    return [
        ("LOGIN_RATE_LIMIT", f"login-address:{request.remote_addr}"),
        ("LOGIN_USER_FAILURE_LIMIT", f"login-user:{_digest(username.lower())}"),
    ]


def before_login(budgets) -> None:
    _refuse_if_spent(budgets)


def failed_login(budgets) -> None:
    _spend(budgets)


# --- claiming an archive by name and ID number ---------------------------------------


def claimed_archive(account_id: int, name: str, id_number: str):
    """The live archive with exactly this name and ID number, for binding or a family
    request; anything else is one ``archive_not_found`` and spends the guessing budgets."""
    from app.residents.services import find_by_id_number

    try:
        parsed = parse_id_number(id_number)
    except IdNumberError as err:  # a typo, not a guess at an archive: costs nothing
        raise Invalid("id_number", str(err)) from None
    name = name.strip()
    budgets = [
        ("BIND_RATE_LIMIT", f"claim-account:{account_id}"),
        ("BIND_TARGET_RATE_LIMIT", f"claim-number:{vault().lookup_hash(parsed.value)[:32]}"),
        ("BIND_TARGET_RATE_LIMIT", f"claim-name:{_digest(name)}"),
    ]
    _refuse_if_spent(budgets)
    resident = find_by_id_number(parsed.value)
    # Name and number must both match; a wrong name reads as "no such archive".
    if resident is None or resident.name != name or resident.status == "deceased":
        _spend(budgets)
        raise NotFound("no archive with that name and ID number", error="archive_not_found")
    return resident
