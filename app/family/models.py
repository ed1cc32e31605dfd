"""Family access (proxy): an account holder may view another person's archive under a grant.

A grant joins one WeChat account (the grantor side: the account holder, bound to their own
archive) to exactly one other archive (``resident_id``). It never reaches further: the
relative's own grants are not inherited.

Lifecycle::

    pending ──accept (the person, on their own phone) / staff confirm in person──▶ active
    pending/active ──either side──▶ revoked
    pending (not answered in REQUEST_TTL_DAYS) ──job──▶ expired
    active, basis guardian_auto, child turns 14 ──(read time at once; job stores it)──▶ pending

``basis`` says how a grant became active (guardian_auto | accepted | staff_confirmed; null while
pending); ``origin`` how the request arose (request | turned_14 | birth: a delivery opened the baby's
archive and gave the mother's account its guardian grant, ``on_baby_archived``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import UTCDateTime
from app.extensions import db

GRANT_STATUSES = ("pending", "active", "revoked", "expired")
GRANT_BASES = ("guardian_auto", "accepted", "staff_confirmed")
RELATIONS = ("child", "grandchild", "ward", "parent", "grandparent", "spouse", "sibling", "other")
# Relations under which an adult of the same household is taken as the guardian of a child under 14.
GUARDIAN_RELATIONS = ("child", "grandchild", "ward")

_LIVE = "status IN ('pending', 'active')"


class FamilyGrant(db.Model):
    __tablename__ = "family_grants"
    __table_args__ = (
        # At most one live (pending or active) grant per account and archive.
        Index(
            "uq_family_grants_live",
            "grantor_account_id",
            "resident_id",
            unique=True,
            postgresql_where=text(_LIVE),
            sqlite_where=text(_LIVE),
        ),
        Index("ix_family_grants_resident_status", "resident_id", "status"),
        Index("ix_family_grants_basis_status", "basis", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grantor_account_id: Mapped[int] = mapped_column(ForeignKey("wechat_accounts.id"), index=True)
    # The account holder's own archive when the grant was made (the account must still be bound to it).
    grantor_resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    # Whose archive may be viewed.
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    relation: Mapped[str] = mapped_column(String(20))  # what the resident is to the account holder
    status: Mapped[str] = mapped_column(String(10), default="pending")
    basis: Mapped[str | None] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20), default="request")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it became active
    confirmed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_note: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(10))  # grantor | resident
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
