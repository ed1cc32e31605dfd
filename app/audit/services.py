"""Write and read the access log. Every archive read or change goes through ``record``."""

from __future__ import annotations

import json

from flask import has_request_context, request
from sqlalchemy import BigInteger, String, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY

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
    """One statement for a list read or an export touching many archives: the ids go as ONE
    parameter (an array on PostgreSQL, a JSON array on SQLite) and the rows are made by the database
    (``INSERT … SELECT``), whatever their number."""
    ids = list(resident_ids)
    if not ids:
        return
    kind, display, institution_id, purpose = describe(actor, None, purpose)
    from app.common.time import now

    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERT_MANY:
        _INSERT_MANY[dialect] = _insert_many(dialect)
    params = {
        "at": now(),
        "actor_kind": kind,
        "actor_id": actor.id if actor else None,
        "actor_display": display,
        "institution_id": institution_id,
        "action": action,
        "section": section,
        "purpose": purpose,
        "client_ip": _client_ip(),
        "ids": ids if dialect == "postgresql" else json.dumps(ids),
    }
    db.session.connection().execute(_INSERT_MANY[dialect], params)


_INSERT_MANY: dict = {}
_SAME_FOR_EVERY_ROW = (
    "at",
    "actor_kind",
    "actor_id",
    "actor_display",
    "institution_id",
    "action",
    "section",
    "purpose",
    "client_ip",
)


def _insert_many(dialect: str):
    table = AccessLog.__table__
    if dialect == "postgresql":
        ids = func.unnest(bindparam("ids", type_=ARRAY(BigInteger))).table_valued("value").render_derived()
    else:
        ids = func.json_each(bindparam("ids", type_=String)).table_valued("value")
    constants = [bindparam(name, type_=table.c[name].type) for name in _SAME_FOR_EVERY_ROW]
    rows = select(*constants, ids.c.value)
    return insert(table).from_select([*_SAME_FOR_EVERY_ROW, "subject_resident_id"], rows)


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
