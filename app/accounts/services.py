"""Logging in and out: staff passwords, WeChat codes, archive binding, token sessions."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import throttles
from app.accounts.models import AuthSession, Staff, WechatAccount
from app.common import events
from app.common.ids import is_valid_phone, vault
from app.common.time import now
from app.errors import AppError, Conflict, Invalid, Unauthorized
from app.extensions import db

log = logging.getLogger(__name__)

# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


# --- sessions and tokens -------------------------------------------------


def _open_session(kind: str, subject_id: int) -> AuthSession:
    lifetime = timedelta(seconds=current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    session = AuthSession(id=str(uuid.uuid4()), subject_kind=kind, subject_id=subject_id, expires_at=now() + lifetime)
    db.session.add(session)
    return session


def issue_tokens(kind: str, subject_id: int, claims: dict | None = None) -> dict:
    session = _open_session(kind, subject_id)
    identity = f"{kind}:{subject_id}"
    claims = {**(claims or {}), "sid": session.id}
    return {
        "access_token": create_access_token(identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity, additional_claims={"sid": session.id}),
    }


def refresh_access_token(identity: str, sid: str) -> str:
    kind, _, raw_id = identity.partition(":")
    claims = {"sid": sid}
    if kind == "staff":
        staff = db.session.get(Staff, int(raw_id))
        if staff is None or not staff.active:
            raise Unauthorized("this account is disabled")
        claims.update(staff_claims(staff))
    return create_access_token(identity, additional_claims=claims)


def revoke_session(sid: str) -> None:
    session = db.session.get(AuthSession, sid)
    if session is not None and session.revoked_at is None:
        session.revoked_at = now()


def revoke_sessions_of(kind: str, subject_id: int) -> int:
    """End every open session of one account (``kind`` staff | wechat); returns how many.

    Revoked sessions stay revoked: an account disabled and enabled again gets no old token back,
    it logs in afresh."""
    from sqlalchemy import update

    return db.session.execute(
        update(AuthSession)
        .where(AuthSession.subject_kind == kind, AuthSession.subject_id == subject_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now())
        .execution_options(synchronize_session="fetch")
    ).rowcount


# --- staff ----------------------------------------------------------------


def staff_claims(staff: Staff) -> dict:
    return {"kind": "staff", "roles": list(staff.roles or []), "institution_id": staff.institution_id}


def team_ids_of(staff_id: int) -> list[int]:
    from app.orgs.models import Team, TeamMember

    return sorted(
        db.session.scalars(select(TeamMember.team_id).join(Team).where(TeamMember.staff_id == staff_id, Team.active))
    )


def staff_login(username: str, password: str, device_token: str | None = None) -> tuple[Staff, dict]:
    """Tokens for a right password, within the guessing budgets of ``throttles``; the
    answer carries a new ``device_token`` that exempts this device from them next time."""
    staff = db.session.scalar(select(Staff).where(Staff.username == username))
    budgets = throttles.login_budgets(username, staff.id if staff else None, device_token)
    throttles.before_login(budgets)
    # Same work and same answer whether the user exists or the password is wrong.
    ok = check_password_hash(staff.password_hash if staff else _DUMMY_HASH, password)
    if staff is None or not ok or not staff.active:
        throttles.failed_login(budgets)
        log.info("staff login refused")
        raise Unauthorized("wrong username or password", error="invalid_credentials")
    tokens = issue_tokens("staff", staff.id, staff_claims(staff))
    return staff, {**tokens, "device_token": throttles.new_device_token(staff.id)}


# --- WeChat residents --------------------------------------------------------


def wechat_login(code: str) -> tuple[WechatAccount, dict]:
    from app.wechat.client import WeChatError, wechat_client

    try:
        session = wechat_client().code2session(code)
    except WeChatError as err:
        if err.transient:
            raise AppError("WeChat is not answering, try again", status=503, error="wechat_unavailable") from None
        raise Unauthorized(
            "the WeChat login code is invalid or was already used", error="wechat_code_invalid"
        ) from None
    account = db.session.scalar(select(WechatAccount).where(WechatAccount.openid == session["openid"]))
    if account is None:
        account = WechatAccount(openid=session["openid"])
        db.session.add(account)
    account.unionid = session.get("unionid") or account.unionid
    account.session_key_enc = vault().encrypt(session["session_key"])
    account.last_login_at = now()
    db.session.flush()
    return account, issue_tokens("wechat", account.id, {"kind": "resident"})


def wechat_accounts_of(resident_ids: set[int]) -> dict[int, WechatAccount]:
    """The bound WeChat account of each of these residents, in one query (the dispatcher's lookup)."""
    found = db.session.scalars(select(WechatAccount).where(WechatAccount.resident_id.in_(resident_ids)))
    return {a.resident_id: a for a in found}


def bind_archive(account_id: int, name: str, id_number: str, phone: str | None = None, phone_code: str | None = None):
    """Bind a WeChat account to the archive matching name + ID number."""
    account = db.session.get(WechatAccount, account_id)
    resident = throttles.claimed_archive(account_id, name, id_number)
    if account.resident_id == resident.id:
        return resident
    holder = db.session.scalar(select(WechatAccount).where(WechatAccount.resident_id == resident.id))
    if holder is not None:
        raise Conflict("this archive is already bound to another WeChat account", error="archive_already_bound")
    if account.resident_id is not None:
        raise Conflict("this WeChat account is already bound to another archive", error="account_already_bound")
    if phone_code:
        phone = _phone_from_wechat(phone_code)
    if phone is not None:
        if not is_valid_phone(phone):
            raise Invalid("phone", "must be an 11-digit mainland mobile number")
        account.phone = phone
    account.resident_id = resident.id
    account.bound_at = now()
    db.session.flush()
    events.archive_bound.send(None, account_id=account.id, resident_id=resident.id)
    return resident


def _phone_from_wechat(phone_code: str) -> str:
    from app.wechat.client import WeChatError, wechat_client
    from app.wechat.tokens import access_token

    try:
        return wechat_client().get_phone_number(access_token(), phone_code)
    except WeChatError as err:
        if err.transient:
            raise AppError("WeChat is not answering, try again", status=503, error="wechat_unavailable") from None
        raise Invalid("phone_code", "WeChat did not accept this phone code") from None
