"""Write and read the access log. Every archive read or change goes through ``record``."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import insert, select

from app.audit.models import AccessLog
from app.extensions import db

PURPOSES = (
    "self_access",
    "family_access",
    "care",
    "follow_up",
    "contract_review",
    "statistics",
    "export",
    "registration",
    "administration",
)


def _client_ip() -> str | None:
    # remote_addr is the socket peer, or X-Forwarded-For through TRUSTED_PROXY_HOPS proxies
    # (ProxyFix in create_app): never a header the client may set at will.
    if not has_request_context():
        return None
    return request.remote_addr


def record(actor, resident_id: int, *, action: str, section: str, purpose: str | None = None) -> None:
    """Write one access-log row in the caller's transaction (a Core insert: no ORM object to flush)."""
    kind, display, institution_id, purpose = describe(actor, resident_id, purpose)
    db.session.connection().execute(
        _INSERT,
        {
            "actor_kind": kind,
            "actor_id": actor.id if actor else None,
            "actor_display": display,
            "institution_id": institution_id,
            "subject_resident_id": resident_id,
            "action": action,
            "section": section,
            "purpose": purpose,
            "client_ip": _client_ip(),
        },
    )


_INSERT = insert(AccessLog.__table__)


def record_many(actor, resident_ids, *, action: str, section: str, purpose: str) -> None:
    """One bulk insert for a list read or an export touching many archives."""
    ids = list(resident_ids)
    if not ids:
        return
    kind, display, institution_id, purpose = describe(actor, None, purpose)
    from app.common.time import now

    at, ip = now(), _client_ip()
    # A Core executemany: on PostgreSQL SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues",
    # one round trip per 1,000 rows) from one cached compilation.
    rows = [
        {
            "at": at,
            "actor_kind": kind,
            "actor_id": actor.id if actor else None,
            "actor_display": display,
            "institution_id": institution_id,
            "subject_resident_id": rid,
            "action": action,
            "section": section,
            "purpose": purpose,
            "client_ip": ip,
        }
        for rid in ids
    ]
    db.session.connection().execute(_INSERT, rows)


def describe(actor, resident_id, purpose):
    if actor is None:
        return "system", "system", None, purpose or "administration"
    if actor.is_staff:
        return "staff", actor.display, actor.institution_id, purpose or "care"
    if resident_id is not None and actor.resident_id == resident_id:
        return "resident", "本人", None, purpose or "self_access"
    return "family", actor.display, None, purpose or "family_access"


def log_for(resident_id: int):
    """The resident's log, newest first (a select for pagination)."""
    return (
        select(AccessLog)
        .where(AccessLog.subject_resident_id == resident_id)
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
    )
