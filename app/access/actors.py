"""Who is calling: the actor behind the bearer token, loaded once per request."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flask import g
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy import select

from app.errors import Forbidden, Unauthorized
from app.extensions import db, jwt


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


def _load_actor(identity: str) -> Actor | None:
    from app.accounts.models import Staff, WechatAccount
    from app.orgs.models import Institution, Team, TeamMember

    kind, _, raw_id = identity.partition(":")
    if not raw_id.isdigit():
        return None
    if kind == "staff":
        row = db.session.execute(
            select(Staff, Institution.path)
            .join(Institution, Institution.id == Staff.institution_id)
            .where(Staff.id == int(raw_id))
        ).first()
        if row is None or not row.Staff.active:
            return None
        staff = row.Staff
        team_ids = db.session.scalars(
            select(TeamMember.team_id).join(Team).where(TeamMember.staff_id == staff.id, Team.active)
        ).all()
        return Actor(
            "staff",
            staff.id,
            staff.name,
            frozenset(staff.roles or []),
            staff.institution_id,
            row.path,
            sorted(team_ids),
        )
    if kind == "wechat":
        from app.residents.models import Resident

        row = db.session.execute(
            select(WechatAccount.id, WechatAccount.resident_id, Resident.name)
            .outerjoin(Resident, Resident.id == WechatAccount.resident_id)
            .where(WechatAccount.id == int(raw_id))
        ).first()
        if row is None:
            return None
        # The display name is what the access log shows a relative's reads as.
        return Actor("resident", row.id, row.name or "居民", resident_id=row.resident_id)
    return None


@jwt.user_lookup_loader
def _user_lookup(_header, payload):
    return _load_actor(payload["sub"])


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
