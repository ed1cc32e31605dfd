"""Pytest plugin: a real HTTP WeChat sandbox for the whole test session.

The product's WeChat client is exercised over real sockets against
``app.wechat.sandbox`` instead of patching ``requests``, so timeouts, HTTP errors
and JSON parsing are tested as they happen in production. One server serves the
session; ``wechat_sandbox`` wipes its state before each test.
"""

from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server

from app.wechat.sandbox import RedactingRequestHandler, create_sandbox_app

SANDBOX_APPID = "wx-demo-appid"
SANDBOX_SECRET = "wx-demo-secret"


class SandboxServer:
    """Handle on a running sandbox; helpers talk to it over HTTP like any client."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.appid = SANDBOX_APPID
        self.secret = SANDBOX_SECRET
        self.http = requests.Session()

    def _request(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, self.url + path, timeout=5, **kwargs)
        response.raise_for_status()
        return response.json()

    def messages(self, touser: str | None = None) -> list[dict]:
        params = {"touser": touser} if touser else None
        return self._request("GET", "/sandbox/messages", params=params)["items"]

    def clear_messages(self) -> None:
        self._request("DELETE", "/sandbox/messages")

    def reset(self) -> None:
        self._request("POST", "/sandbox/reset")

    def fault(
        self, path: str, errcode: int | None = None, http_status: int | None = None, delay_ms: int = 0, times: int = 1
    ) -> dict:
        return self._request(
            "POST",
            "/sandbox/faults",
            json={"path": path, "errcode": errcode, "http_status": http_status, "delay_ms": delay_ms, "times": times},
        )

    def expire_token(self) -> bool:
        return self._request("POST", "/sandbox/expire-token")["expired"]

    def state(self) -> dict:
        return self._request("GET", "/sandbox/state")


@pytest.fixture(scope="session")
def wechat_sandbox_server():
    app = create_sandbox_app(SANDBOX_APPID, SANDBOX_SECRET)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="wechat-sandbox", daemon=True)
    thread.start()
    handle = SandboxServer(f"http://127.0.0.1:{server.server_port}")
    try:
        yield handle
    finally:
        handle.http.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def wechat_sandbox(wechat_sandbox_server):
    wechat_sandbox_server.reset()
    yield wechat_sandbox_server
