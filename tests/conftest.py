"""Fixtures: one app per test session on the engine named by DATABASE_URL
(SQLite in a temporary file when unset), a clean database for every test, the
WeChat sandbox on loopback, and a small hand-built district."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

pytest_plugins = ["tests.wechat_fixtures"]


@pytest.fixture(scope="session")
def app(tmp_path_factory, wechat_sandbox_server):
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    os.environ["WECHAT_API_BASE"] = wechat_sandbox_server.url
    os.environ.setdefault("WECHAT_TIMEOUT_MS", "2000")
    from app import create_app
    from app.extensions import db

    app = create_app("testing")
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    from app.common import time as clock
    from app.extensions import limiter

    clock.freeze(None)
    with app.app_context():
        limiter.reset()
        empty_database()


def empty_database() -> None:
    """Every table emptied (ids restart on PostgreSQL), in the caller's app context."""
    from app.extensions import db

    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def ctx(app):
    """An application context for direct database reads in assertions."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    from tests.factories import build_world

    with app.app_context():
        return build_world()


@pytest.fixture
def api(client, world):
    from tests.factories import ApiClient

    return ApiClient(client, world)
