"""``Idempotency-Key`` for creating POSTs: a repeat returns the first response.

A key names one request: its method, path, caller and body, kept as a SHA-256 fingerprint.
The same key sent with anything else is refused (422 ``idempotency_key_reused``): answering it
with the first request's result would tell a client that its second, different request
succeeded when nothing was done. Keys are unique on their own, not per caller, so that another
caller's use is refused too; a stored response is only ever replayed to the caller who made it.

The decorator runs the view and stores the rendered response on the key row; the request's
unit of work (``app.common.unit_of_work``) then commits the work and the key together, once.
A crash therefore leaves either both or neither — never work done under a key still "in
progress". Only successful answers are kept: a failed request may be retried as is.

Keys live ``IDEMPOTENCY_KEY_HOURS`` (default 24): an older key counts as unused, and the
daily ``idempotency-expire`` job deletes them.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta

from flask import Response, current_app, make_response, request
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from sqlalchemy import String, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.errors import Conflict, Invalid
from app.extensions import db

HEADER = "Idempotency-Key"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    actor: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of method, path, actor, body
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)  # the expiry job


def _actor_key() -> str:
    # The token's identity ("staff:12", "wechat:5"): common code reads the JWT, not the app's actors.
    verify_jwt_in_request(optional=True)
    return get_jwt_identity() or f"anon:{request.remote_addr}"


def _fingerprint(actor: str) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1"), actor):
        digest.update(part.encode())
        digest.update(b"\0")  # no part can run into the next
    digest.update(request.get_data(cache=True))  # cached: the body is parsed from it afterwards
    return digest.hexdigest()


def _cutoff() -> datetime:
    return now() - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])


def _find(key: str) -> IdempotencyKey | None:
    return db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))


def idempotent(view):
    """Decorate a creating view (above ``@blp.arguments``/``@blp.response``, so the stored body is
    the schema-dumped one the client got) to honour Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 100 or not key.isprintable():
            # a NUL (or any control character) cannot be stored in PostgreSQL text: a 500 otherwise
            raise Invalid(HEADER, "at most 100 printable characters")
        actor = _actor_key()
        fingerprint = _fingerprint(actor)
        existing = _find(key)
        if existing is not None and existing.created_at < _cutoff():
            # Expired (the daily job has not run yet): the key is free again.
            db.session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.id == existing.id, IdempotencyKey.created_at < _cutoff())
            )
            db.session.expunge(existing)
            existing = None
        if existing is not None:
            return _replay(existing, actor, fingerprint)
        row = IdempotencyKey(
            key=key,
            actor=actor,
            fingerprint=fingerprint,
            method=request.method,
            path=request.path[:255],
            created_at=now(),
        )
        db.session.add(row)
        try:
            # Claim the key before the work: a concurrent request with the same key waits here on
            # the unique index until this one commits, then replays its answer. (No savepoint:
            # the claim is the request's first write, and pysqlite would commit at its release.)
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            winner = _find(key)
            if winner is None:  # the other request failed and kept nothing: retry as is
                raise Conflict(
                    "a request with this Idempotency-Key is in progress, retry shortly", error="idempotency_in_progress"
                ) from None
            return _replay(winner, actor, fingerprint)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 300:
            row.status_code = response.status_code
            row.response_body = response.get_data(as_text=True)
        else:
            db.session.delete(row)
        return response  # committed with the work by the request's unit of work

    # Documented as an optional header of the operation (app.common.openapi reads this mark).
    apidoc = getattr(wrapper, "_apidoc", {})
    wrapper._apidoc = {**apidoc, "manual_doc": {**apidoc.get("manual_doc", {}), "x-idempotent": True}}
    return wrapper


def _replay(row: IdempotencyKey, actor: str, fingerprint: str) -> Response:
    # The actor is compared on its own too: a response is never handed to another caller.
    if row.actor != actor or row.fingerprint != fingerprint:
        raise Invalid(
            HEADER,
            "already used for another request (another body, path or caller); send a new key for a new request",
            error="idempotency_key_reused",
        )
    if row.status_code is None:
        raise Conflict(
            "a request with this Idempotency-Key is in progress, retry shortly", error="idempotency_in_progress"
        )
    response = Response(row.response_body, status=row.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def expire_keys() -> dict:
    """Daily job: delete the keys older than ``IDEMPOTENCY_KEY_HOURS`` (set-based)."""
    deleted = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < _cutoff()).execution_options(synchronize_session=False)
    ).rowcount
    return {"deleted": max(deleted, 0)}


__all__ = ["idempotent", "IdempotencyKey", "expire_keys"]
