"""One WeChat access token for all processes.

WeChat invalidates older tokens when a new one is fetched too often, so processes
must share one. The database is the default store: the refresh runs in its own
transaction holding a row lock (``FOR UPDATE`` on PostgreSQL; SQLite serialises
writers anyway), and whoever waits on the lock re-reads the fresh token instead of
fetching another. With ``REDIS_URL`` set, Redis holds the token and a Redis lock
does the same job. Tokens are refreshed ``REFRESH_MARGIN`` before they expire.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.common.time import now
from app.extensions import db
from app.wechat.models import WechatToken

REFRESH_MARGIN = timedelta(minutes=5)


def access_token(force_refresh: bool = False, stale_token: str | None = None) -> str:
    """A valid token; ``stale_token`` is the one WeChat just rejected (40001/42001)."""
    if current_app.config.get("REDIS_URL"):
        return _redis_token(force_refresh, stale_token)
    return _db_token(force_refresh, stale_token)


def _fresh(token: str | None, expires_at: datetime | None, stale: str | None) -> bool:
    return bool(token) and token != stale and expires_at is not None and expires_at - REFRESH_MARGIN > now()


def _fetch(force: bool) -> tuple[str, datetime]:
    from app.wechat.client import wechat_client

    token, expires_in = wechat_client().fetch_stable_token(force_refresh=force)
    return token, now() + timedelta(seconds=int(expires_in))


def _db_token(force_refresh: bool, stale: str | None) -> str:
    appid = current_app.config["WECHAT_APPID"]
    if not force_refresh:
        row = db.session.get(WechatToken, appid)
        if row is not None and _fresh(row.access_token, row.expires_at, stale):
            return row.access_token
    # Own connection and transaction: the caller's unit of work is left untouched.
    with Session(db.engine) as session, session.begin():
        _ensure_row(session, appid)
        row = session.scalar(
            select(WechatToken)
            .where(WechatToken.appid == appid)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if not force_refresh and _fresh(row.access_token, row.expires_at, stale):
            return row.access_token  # another process refreshed while we waited for the lock
        token, expires_at = _fetch(force=force_refresh or stale is not None)
        row.access_token, row.expires_at, row.refreshed_at = token, expires_at, now()
        return token


def _ensure_row(session: Session, appid: str) -> None:
    """Create the row once so there is always something to lock."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(WechatToken).values(appid=appid).on_conflict_do_nothing(index_elements=["appid"]))


def _redis_token(force_refresh: bool, stale: str | None) -> str:
    import redis

    client = redis.Redis.from_url(current_app.config["REDIS_URL"])
    key = f"wechat:token:{current_app.config['WECHAT_APPID']}"

    def cached():
        raw = client.get(key)
        if raw:
            data = json.loads(raw)
            expires_at = datetime.fromisoformat(data["expires_at"])
            if _fresh(data["token"], expires_at, stale):
                return data["token"]
        return None

    if not force_refresh and (token := cached()):
        return token
    with client.lock(key + ":lock", timeout=30, blocking_timeout=30):
        if not force_refresh and (token := cached()):
            return token
        token, expires_at = _fetch(force=force_refresh or stale is not None)
        ttl = max(1, int((expires_at - now()).total_seconds()))
        client.set(key, json.dumps({"token": token, "expires_at": expires_at.isoformat()}), ex=ttl)
        return token
