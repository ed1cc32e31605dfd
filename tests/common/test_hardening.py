"""Faults and abuse: the database going away, headers, CORS, nothing personal in the logs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sqlite3
import threading

from sqlalchemy.engine import make_url

from tests.factories import PASSWORD


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that a test can cut and restore."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self):
        self.up = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def restore(self):
        self.up = True


def test_database_outage_is_a_503_and_the_app_recovers(app, world, tmp_path, monkeypatch):
    from app import create_app

    url = make_url(os.environ["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        # SQLite: a consistent copy of the test database, whose files are moved away and back.
        copy = tmp_path / "outage.sqlite3"
        with sqlite3.connect(url.database) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{copy}")
        outage_app = create_app("testing")
        away = tmp_path / "away"
        away.mkdir()

        def cut():
            _dispose(outage_app)
            for f in tmp_path.glob("outage.sqlite3*"):
                shutil.move(str(f), str(away / f.name))

        def restore():
            _dispose(outage_app)
            for f in tmp_path.glob("outage.sqlite3*"):
                f.unlink()
            for f in away.iterdir():
                shutil.move(str(f), str(tmp_path / f.name))
    else:
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        monkeypatch.setenv(
            "DATABASE_URL", url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        outage_app = create_app("testing")
        cut, restore = proxy.cut, proxy.restore
    client = outage_app.test_client()
    token = client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": PASSWORD}).json[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/residents/{world.alice}", headers=headers).status_code == 200
    cut()
    try:
        down = client.get(f"/api/v1/residents/{world.alice}", headers=headers)
        assert down.status_code == 503, down.get_data(as_text=True)
        assert down.json["error"] == "database_unavailable"
        assert client.get("/readyz").status_code == 503
    finally:
        restore()
    assert client.get(f"/api/v1/residents/{world.alice}", headers=headers).status_code == 200
    assert client.get("/readyz").status_code == 200


def _dispose(app):
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_security_headers(client):
    r = client.get("/healthz")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_api_answers_are_not_cached(api, world):
    assert api.get("a-doc", f"/api/v1/residents/{world.alice}").headers["Cache-Control"] == "no-store"


def test_cors_only_for_configured_origins(monkeypatch, app):
    from app import create_app

    monkeypatch.setenv("CORS_ORIGINS", "https://admin.example.org")
    cors_app = create_app("testing")
    c = cors_app.test_client()
    allowed = c.get("/api/openapi.json", headers={"Origin": "https://admin.example.org"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://admin.example.org"
    other = c.get("/api/openapi.json", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    default = app.test_client().get("/api/openapi.json", headers={"Origin": "https://admin.example.org"})
    assert "Access-Control-Allow-Origin" not in default.headers


ID_RE = re.compile(r"\d{17}[\dX]")
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_logs_carry_no_id_numbers_or_phones(api, world, caplog, wechat_sandbox):
    caplog.set_level(logging.DEBUG)
    api.post(
        "a-doc",
        "/api/v1/residents",
        json={"name": "孙悦", "id_number": "11010519491231002X", "phone": "13700001234", "institution_id": world.a},
    )
    api.post(
        "a-doc",
        "/api/v1/residents",
        json={"name": "孙悦", "id_number": "110105194912310021", "institution_id": world.a},
    )
    api.get("alice", f"/api/v1/residents/{world.alice}")
    api.client.post("/api/v1/auth/staff/login", json={"username": "a-doc", "password": "wrong-password"})
    api.post("admin", "/api/v1/residents/lookup", json={"id_number": world.numbers["bob"]})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records, "expected some log output to inspect"
    assert not ID_RE.search(text), ID_RE.search(text)
    assert not PHONE_RE.search(text), PHONE_RE.search(text)
    assert PASSWORD not in text and "wrong-password" not in text
