"""What the WeChat sandbox (``app.wechat.sandbox``) remembers — login codes, the access token,
the messages "sent" — and the faults a test may inject into its WeChat paths.

State lives in memory in one ``SandboxState`` guarded by a lock, because the sandbox is served by
a threaded server.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime

TOKEN_TTL_SECONDS = 7200
WECHAT_PATHS = (
    "/sns/jscode2session",
    "/cgi-bin/stable_token",
    "/cgi-bin/message/subscribe/send",
    "/wxa/business/getuserphonenumber",
)


class SandboxState:
    """Everything the fake WeChat remembers; every access holds ``lock``."""

    def __init__(self, token_ttl: int = TOKEN_TTL_SECONDS) -> None:
        self.lock = threading.Lock()
        self.token_ttl = token_ttl
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.used_codes: set[str] = set()
            self.codes_used = 0
            self.token: str | None = None
            self.token_expires_at = 0.0
            self.expired_tokens: set[str] = set()
            self.tokens_issued = 0
            self.messages: list[dict] = []
            self.next_msgid = 1
            self.faults: dict[str, deque] = {}

    # Login codes -------------------------------------------------------------
    def use_code(self, code: str) -> int:
        """0 if the code is valid and now spent, else the WeChat errcode."""
        openid, sep, _ = code.partition(":")
        if not sep or not openid:
            return 40029
        with self.lock:
            if code in self.used_codes:
                return 40163
            self.used_codes.add(code)
            self.codes_used += 1
        return 0

    # Access token -------------------------------------------------------------
    def stable_token(self, force_refresh: bool) -> tuple[str, int]:
        with self.lock:
            now = time.monotonic()
            if self.token and self.token_expires_at <= now:
                self.expired_tokens.add(self.token)
                self.token = None
            if force_refresh or self.token is None:
                self.token = secrets.token_urlsafe(48)
                self.token_expires_at = now + self.token_ttl
                self.tokens_issued += 1
            return self.token, max(0, int(self.token_expires_at - now))  # whole seconds left, as WeChat reports

    def check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        with self.lock:
            if token in self.expired_tokens:
                return 42001
            if token != self.token:
                return 40001
            if self.token_expires_at <= time.monotonic():
                self.expired_tokens.add(token)
                return 42001
        return 0

    def expire_token(self) -> bool:
        with self.lock:
            if self.token is None:
                return False
            self.token_expires_at = time.monotonic()
            return True

    # Messages and faults -----------------------------------------------------
    def record(self, body: dict) -> int:
        with self.lock:
            msgid = self.next_msgid
            self.next_msgid += 1
            self.messages.append(
                {
                    "id": msgid,
                    "received_at": datetime.now(UTC).isoformat(),
                    **{k: body.get(k) for k in ("touser", "template_id", "page", "data", "miniprogram_state", "lang")},
                }
            )
            return msgid

    def list_messages(self, touser: str | None) -> list[dict]:
        with self.lock:
            return [dict(m) for m in self.messages if touser is None or m["touser"] == touser]

    def clear_messages(self) -> None:
        with self.lock:
            self.messages.clear()

    def add_fault(self, path: str, fault: dict) -> None:
        with self.lock:
            self.faults.setdefault(path, deque()).append(fault)

    def take_fault(self, path: str) -> dict | None:
        with self.lock:
            queue = self.faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                queue.popleft()
            return dict(fault)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "tokens_issued": self.tokens_issued,
                "codes_used": self.codes_used,
                "messages": len(self.messages),
                "token_valid": bool(self.token) and self.token_expires_at > time.monotonic(),
                "pending_faults": {p: [dict(f) for f in q] for p, q in self.faults.items() if q},
            }


def parse_fault(body: dict | None) -> tuple[dict, str | None]:
    """Validate a fault so a typo in a test fails loudly instead of never firing."""
    if body is None:
        return {}, "a JSON object is required"
    path = body.get("path")
    if path not in WECHAT_PATHS:
        return {}, f"path must be one of {list(WECHAT_PATHS)}"
    errcode, status = body.get("errcode"), body.get("http_status")
    delay, times = body.get("delay_ms", 0) or 0, body.get("times", 1)
    if errcode is not None and not _is_int(errcode):
        return {}, "errcode must be an integer"
    if status is not None and not (_is_int(status) and 100 <= status <= 599):
        return {}, "http_status must be an HTTP status code"
    if not (_is_int(delay) and delay >= 0) or not (_is_int(times) and times >= 1):
        return {}, "delay_ms must be >= 0 and times >= 1"
    if errcode is None and status is None and not delay:
        return {}, "give errcode, http_status or delay_ms"
    return {"path": path, "errcode": errcode, "http_status": status, "delay_ms": delay, "times": times}, None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
