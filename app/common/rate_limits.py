"""Rate-limit counters every worker and process shares, without Redis.

Flask-Limiter keeps its counters in a ``limits`` storage. Its memory storage lives in one
worker, so with N gunicorn workers a limit lets N times through. This storage keeps them
in the application's own database (one row per key, one atomic upsert per hit), so the
limit holds across workers, processes and machines; ``REDIS_URL`` switches to Redis for
deployments that have it (``storage_uri()``).

Counters are written on their own connection and committed at once: a request that fails
(and rolls its own transaction back) must still count, or a guess would cost nothing.
"""

from __future__ import annotations

import time

from limits.storage import Storage
from sqlalchemy import Float, String, case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

SCHEME = "appdb"


class RateLimitCounter(db.Model):
    """A fixed-window counter: ``count`` hits until ``expires_at`` (Unix seconds)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def storage_uri(redis_url: str | None) -> str:
    return redis_url or f"{SCHEME}://"


class DatabaseStorage(Storage):
    """A ``limits`` storage over the ``rate_limit_counters`` table (registered as ``appdb://``)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def engine(self):
        # The current app's: one limiter serves every app object (tests make several).
        return db.engine

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    @staticmethod
    def _table():
        return RateLimitCounter.__table__

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        table, at = self._table(), time.time()
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        expired = table.c.expires_at <= at
        stmt = (
            insert(table)
            .values(key=key, count=amount, expires_at=at + expiry)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case((expired, amount), else_=table.c.count + amount),
                    "expires_at": case((expired, at + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.count)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).scalar_one()

    def get(self, key: str) -> int:
        table = self._table()
        with self.engine.connect() as conn:
            count = conn.execute(
                select(table.c.count).where(table.c.key == key, table.c.expires_at > time.time())
            ).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        table = self._table()
        with self.engine.connect() as conn:
            expires = conn.execute(select(table.c.expires_at).where(table.c.key == key)).scalar()
        return max(expires or 0.0, time.time())

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(self._table())).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self._table()).where(self._table().c.key == key))


def expire_counters() -> dict:
    """Daily job: counters whose window ended are dead rows (set-based)."""
    table = RateLimitCounter.__table__
    deleted = db.session.execute(delete(table).where(table.c.expires_at <= time.time())).rowcount
    return {"deleted": max(deleted, 0)}
