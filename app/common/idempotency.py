"""``Idempotency-Key`` for creating POSTs: a repeat returns the first response.

The key row is inserted in the same transaction as the work it guards. A second
request with the same key either finds the finished row and replays it, or (when it
races the first) hits the unique constraint and is told to retry — never a second
resource. Only successful answers are kept: a failed request may be retried as is.
"""
from __future__ import annotations

import functools
from datetime import datetime

from flask import Response, request
from sqlalchemy import String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, UTCDateTime
from app.errors import Conflict, Invalid
from app.extensions import db

HEADER = "Idempotency-Key"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def _actor_key() -> str:
    from app.access.actors import current_actor

    actor = current_actor(optional=True)
    return actor.key if actor else f"anon:{request.remote_addr}"


def idempotent(view):
    """Decorate a creating view (inside ``@blp.response``) to honour Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 100 or not key.isprintable():
            # a NUL (or any control character) cannot be stored in PostgreSQL text: a 500 otherwise
            raise Invalid(HEADER, "at most 100 printable characters")
        actor = _actor_key()
        existing = db.session.scalar(
            select(IdempotencyKey).filter_by(actor=actor, key=key))
        if existing is not None:
            return _replay(existing)
        row = IdempotencyKey(actor=actor, key=key, method=request.method, path=request.path)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise Conflict("a request with this Idempotency-Key is in progress, retry shortly",
                           error="idempotency_in_progress")
        result = view(*args, **kwargs)
        response = _as_response(result)
        if response.status_code < 300:
            row.status_code = response.status_code
            row.response_body = response.get_data(as_text=True)
            db.session.add(row)
            db.session.commit()
        return response

    # Documented as an optional header of the operation (app.common.openapi reads this mark).
    apidoc = getattr(wrapper, "_apidoc", {})
    wrapper._apidoc = {**apidoc, "manual_doc": {**apidoc.get("manual_doc", {}), "x-idempotent": True}}
    return wrapper


def _as_response(result) -> Response:
    from flask import make_response

    return make_response(result)


def _replay(row: IdempotencyKey) -> Response:
    if row.status_code is None:
        raise Conflict("a request with this Idempotency-Key is in progress, retry shortly",
                       error="idempotency_in_progress")
    if row.method != request.method or row.path != request.path:
        raise Conflict("this Idempotency-Key was used for another request",
                       error="idempotency_key_reused")
    response = Response(row.response_body, status=row.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


__all__ = ["idempotent", "IdempotencyKey"]
