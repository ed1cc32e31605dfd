"""Who can log in: staff accounts, WeChat accounts, and the sessions behind tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import JSONType, UTCDateTime
from app.extensions import db

STAFF_ROLES = ("doctor", "team_leader", "institution_admin", "district_admin")


class Staff(db.Model):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list] = mapped_column(JSONType, default=list)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    institution: Mapped[Institution] = relationship()  # noqa: F821


class WechatAccount(db.Model):
    """A mini-program user (openid), bound to at most one archive."""

    __tablename__ = "wechat_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # Encrypted; the WeChat session_key never leaves the server.
    session_key_enc: Mapped[str | None] = mapped_column(String(255))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resident: Mapped[Resident | None] = relationship()  # noqa: F821


class AuthSession(db.Model):
    """One login: the access and refresh tokens carry its id, logout revokes it.

    Kept in the database so that every worker sees a logout at once.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # staff | wechat
    subject_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
