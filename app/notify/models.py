"""Reminders as rows: the outbox, each delivery attempt, the in-app inbox, send credits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

# pending → sending (leased) → sent | failed | skipped; sending with an expired lease is claimable again.
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "skipped")
UNDELIVERED = ("pending", "sending")
FINISHED = ("sent", "failed", "skipped")
# The rows still to deliver, as the partial index's predicate (same text on both engines).
_UNDELIVERED_SQL = "status IN ('pending', 'sending')"
RECIPIENT_KINDS = ("resident", "staff")


class Outbox(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (
        # The dispatcher's claim query: due rows by time. Partial over the rows still to deliver,
        # so the finished history (millions of sent rows) is not in it and costs the claim nothing.
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            "id",
            postgresql_where=text(_UNDELIVERED_SQL),
            sqlite_where=text(_UNDELIVERED_SQL),
        ),
        Index("ix_outbox_recipient", "recipient_kind", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient_kind: Mapped[str] = mapped_column(String(10))
    recipient_id: Mapped[int]
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who holds the lease: a fresh token per claim, '' when nobody does. It is the mapper's
    # version column, so every ORM UPDATE of a row carries "AND lease_token = <the token read>"
    # and fails (StaleDataError) once another dispatcher re-claimed the row or it was withdrawn.
    lease_token: Mapped[str] = mapped_column(String(32), default="", server_default="")
    attempts: Mapped[int] = mapped_column(default=0)
    inbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_messages.id"))
    wechat_status: Mapped[str | None] = mapped_column(String(20))  # sent | no_credit | no_account | refused | …
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inbox_message: Mapped[InboxMessage | None] = relationship()

    __mapper_args__ = {"version_id_col": lease_token, "version_id_generator": False}


class DeliveryAttempt(db.Model):
    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))  # wechat | inbox
    result: Mapped[str] = mapped_column(String(20))  # sent | retry | final_error | skipped
    error_code: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class InboxMessage(db.Model):
    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_recipient_created", "recipient_kind", "recipient_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(10))
    recipient_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionCredit(db.Model):
    """One-time subscribe-message permissions a WeChat account granted, per template."""

    __tablename__ = "subscription_credits"
    __table_args__ = (UniqueConstraint("account_id", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("wechat_accounts.id"))
    template_id: Mapped[str] = mapped_column(String(64))
    credits: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
