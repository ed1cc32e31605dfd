"""Who is calling: the actor behind the bearer token, loaded once per request."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flask import g
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy import and_, bindparam, select

from app.accounts.models import AuthSession, Staff, WechatAccount
from app.errors import Forbidden, Unauthorized
from app.extensions import db, jwt
from app.orgs.models import Institution, Team, TeamMember
from app.residents.models import Resident


@dataclass
class Actor:
    kind: str  # "staff" | "resident"
    id: int
    display: str
    roles: frozenset = frozenset()
    institution_id: int | None = None
    institution_path: str | None = None
    team_ids: list = field(default_factory=list)
    resident_id: int | None = None  # for a WeChat account bound to an archive

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_district_admin(self) -> bool:
        return "district_admin" in self.roles

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _caller_statement(kind: str):
    """The session and the account behind a token, in one statement (one row per team for staff).

    Every authenticated request needs both — is the session still open, who is calling — so they are
    read together, with their names and teams, instead of in three round trips."""
    session = select(AuthSession.revoked_at).select_from(AuthSession).where(AuthSession.id == bindparam("sid"))
    if kind == "staff":
        return (
            session.add_columns(
                Staff.id,
                Staff.name,
                Staff.roles,
                Staff.institution_id,
                Staff.active,
                Institution.path,
                Team.id.label("team_id"),
            )
            .outerjoin(Staff, Staff.id == bindparam("account"))
            .outerjoin(Institution, Institution.id == Staff.institution_id)
            .outerjoin(TeamMember, TeamMember.staff_id == Staff.id)
            .outerjoin(Team, and_(Team.id == TeamMember.team_id, Team.active))
        )
    return (
        session.add_columns(WechatAccount.id, WechatAccount.resident_id, Resident.name)
        .outerjoin(WechatAccount, WechatAccount.id == bindparam("account"))
        .outerjoin(Resident, Resident.id == WechatAccount.resident_id)
    )


_STATEMENTS = {kind: None for kind in ("staff", "wechat")}


def _load_caller(payload: dict) -> tuple[bool, Actor | None]:
    """(session revoked?, the actor or None) for a decoded token."""
    kind, _, raw_id = str(payload.get("sub", "")).partition(":")
    sid = payload.get("sid")
    if not sid or kind not in _STATEMENTS or not raw_id.isdigit():
        return True, None
    if _STATEMENTS[kind] is None:
        _STATEMENTS[kind] = _caller_statement(kind)
    rows = db.session.connection().execute(_STATEMENTS[kind], {"sid": sid, "account": int(raw_id)}).all()
    if not rows or rows[0].revoked_at is not None:
        return True, None
    first = rows[0]
    if first.id is None:
        return False, None
    if kind == "staff":
        if not first.active:
            return False, None
        team_ids = sorted({row.team_id for row in rows if row.team_id is not None})
        return False, Actor(
            "staff", first.id, first.name, frozenset(first.roles or []), first.institution_id, first.path, team_ids
        )
    # The display name is what the access log shows a relative's reads as.
    return False, Actor("resident", first.id, first.name or "居民", resident_id=first.resident_id)


def caller(payload: dict) -> tuple[bool, Actor | None]:
    """``_load_caller`` once per request: the blocklist check and the user lookup both ask."""
    key = (payload.get("jti"), payload.get("sid"), payload.get("sub"))
    cached = g.get("_caller")
    if cached is None or cached[0] != key:
        cached = (key, _load_caller(payload))
        g._caller = cached
    return cached[1]


def session_revoked(payload: dict) -> bool:
    return caller(payload)[0]


@jwt.user_lookup_loader
def _user_lookup(_header, payload):
    return caller(payload)[1]


@jwt.user_lookup_error_loader
def _user_lookup_error(_header, _payload):
    from app.errors import error_response

    return error_response(401, "unauthorized", "this account no longer exists or is disabled")


def current_actor(optional: bool = False) -> Actor | None:
    """The caller, verifying the access token on first use in a request."""
    if "actor" not in g:
        verify_jwt_in_request(optional=optional)
        from flask_jwt_extended import current_user

        g.actor = current_user if get_jwt() else None
    if g.actor is None and not optional:
        raise Unauthorized("missing or invalid access token")
    return g.actor


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        current_actor()
        return view(*args, **kwargs)

    return wrapper


def staff_required(*roles: str):
    """Staff only; with ``roles``, at least one of them. District admins pass every check."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if not actor.is_staff:
                raise Forbidden("staff only")
            if roles and not (actor.has_any(*roles) or actor.is_district_admin):
                raise Forbidden("requires role: " + " or ".join(roles))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def resident_required(view):
    """A WeChat account; the archive binding is checked where it matters."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        actor = current_actor()
        if actor.kind != "resident":
            raise Forbidden("resident accounts only")
        return view(*args, **kwargs)

    return wrapper
