"""A loopback stand-in for the WeChat server API, for development, demos and tests.

The product talks to WeChat over HTTP only, so the most faithful fake is another
HTTP server speaking the same paths and JSON bodies (errors are HTTP 200 with
``errcode``/``errmsg``, as WeChat does). The client code under test is then the
real client, with its real timeouts and error mapping; nothing is patched.

State lives in memory in one ``SandboxState`` guarded by a lock, because the
sandbox is served by a threaded server. ``/sandbox/*`` endpoints (not part of
WeChat) let tests read what was "sent", inject faults and expire the token.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler

TOKEN_TTL_SECONDS = 7200
WECHAT_PATHS = (
    "/sns/jscode2session",
    "/cgi-bin/stable_token",
    "/cgi-bin/message/subscribe/send",
    "/wxa/business/getuserphonenumber",
)
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    41008: "missing code",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach-limit",
    47001: "data format error",
    47003: "argument invalid!",
}
# Subscribe-message value limits by key prefix ("thing1" -> "thing").
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M",
    "%H:%M",
)


def _is_time(value: str) -> bool:
    """WeChat accepts one date/time or a range "a ~ b"."""
    parts = [p.strip() for p in value.split("~")]
    if len(parts) > 2:
        return False
    for part in parts:
        for fmt in _TIME_FORMATS:
            try:
                datetime.strptime(part, fmt)
                break
            except ValueError:
                continue
        else:
            return False
    return True


_VALUE_RULES = {
    "thing": lambda v: len(v) <= 20,
    # 10 Chinese characters, or 20 if it is plain ASCII (an English name).
    "name": lambda v: len(v) <= 10 or (v.isascii() and len(v) <= 20),
    "phrase": lambda v: len(v) <= 5,
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"\d+(\.\d+)?", v) is not None,
    "time": _is_time,
    "date": _is_time,
    "character_string": lambda v: len(v) <= 32 and v.isascii(),
    "letter": lambda v: len(v) <= 32 and v.isascii() and v.isalpha(),
    "symbol": lambda v: len(v) <= 5,
    "amount": lambda v: len(v) <= 16 and re.fullmatch(r"[¥￥]?\d+(\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: len(v) <= 17 and re.fullmatch(r"[\d+\-]+", v) is not None,
    "car_number": lambda v: len(v) <= 8,
}


def invalid_data_key(data) -> str | None:
    """The first ``data`` entry WeChat would reject with 47003, or None if all pass."""
    if not isinstance(data, dict) or not data:
        return "data"
    for key, entry in data.items():
        prefix = re.sub(r"\d+$", "", str(key))
        rule = _VALUE_RULES.get(prefix)
        value = entry.get("value") if isinstance(entry, dict) else None
        if rule is None or not isinstance(value, str) or not value or not rule(value):
            return f"data.{key}.value"
    return None


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


def wx_error(errcode: int, detail: str = "") -> Response:
    message = ERRMSG.get(errcode, "error")
    return jsonify(errcode=errcode, errmsg=f"{message} {detail}".strip())


def _json_body() -> dict | None:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None


def create_sandbox_app(
    appid: str = "wx-demo-appid", secret: str = "wx-demo-secret", token_ttl: int = TOKEN_TTL_SECONDS
) -> Flask:
    """A Flask app answering like ``api.weixin.qq.com`` for the given credentials."""
    app = Flask("wechat_sandbox")
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    state = SandboxState(token_ttl)
    app.extensions["wechat_sandbox_state"] = state

    @app.before_request
    def _inject_fault():
        fault = state.take_fault(request.path) if request.path in WECHAT_PATHS else None
        if fault is None:
            return None
        if fault["delay_ms"]:
            time.sleep(fault["delay_ms"] / 1000)
        if fault["http_status"]:
            if fault["errcode"] is not None:
                return wx_error(fault["errcode"]), fault["http_status"]
            return Response(
                f"<html><body>{fault['http_status']}</body></html>", status=fault["http_status"], mimetype="text/html"
            )
        if fault["errcode"] is not None:
            return wx_error(fault["errcode"], "(injected)")
        return None  # a pure delay: answer normally, late (a "timeout that succeeded")

    def _credentials(given_appid, given_secret) -> int:
        if given_appid != appid:
            return 40013
        if given_secret != secret:
            return 40125
        return 0

    @app.get("/sns/jscode2session")
    def jscode2session():
        args = request.args
        if err := _credentials(args.get("appid"), args.get("secret")):
            return wx_error(err)
        if args.get("grant_type") != "authorization_code":
            return wx_error(40002)
        code = args.get("js_code")
        if not code:
            return wx_error(41008)
        if err := state.use_code(code):
            return wx_error(err)
        openid = code.partition(":")[0]
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        return jsonify(openid=openid, session_key=session_key, unionid=f"u-{openid}")

    @app.post("/cgi-bin/stable_token")
    def stable_token():
        body = _json_body()
        if body is None:
            return wx_error(47001)
        if body.get("grant_type") != "client_credential":
            return wx_error(40002)
        if err := _credentials(body.get("appid"), body.get("secret")):
            return wx_error(err)
        token, expires_in = state.stable_token(body.get("force_refresh") is True)
        return jsonify(access_token=token, expires_in=expires_in)

    @app.post("/cgi-bin/message/subscribe/send")
    def subscribe_send():
        if err := state.check_token(request.args.get("access_token")):
            return wx_error(err)
        body = _json_body()
        if body is None:
            return wx_error(47001)
        if not body.get("touser"):
            return wx_error(40003)
        if not body.get("template_id"):
            return wx_error(40037)
        if bad := invalid_data_key(body.get("data")):
            return wx_error(47003, f"{bad} invalid")
        return jsonify(errcode=0, errmsg="ok", msgid=state.record(body))

    @app.post("/wxa/business/getuserphonenumber")
    def phone_number():
        if err := state.check_token(request.args.get("access_token")):
            return wx_error(err)
        body = _json_body() or {}
        match = re.fullmatch(r"phone:(\d{11})", str(body.get("code") or ""))
        if not match:
            return wx_error(40029)
        phone = match.group(1)
        return jsonify(
            errcode=0,
            errmsg="ok",
            phone_info={
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": appid},
            },
        )

    @app.get("/sandbox/messages")
    def list_messages():
        return jsonify(items=state.list_messages(request.args.get("touser") or None))

    @app.delete("/sandbox/messages")
    def clear_messages():
        state.clear_messages()
        return jsonify(ok=True)

    @app.post("/sandbox/reset")
    def reset():
        state.reset()
        return jsonify(ok=True)

    @app.post("/sandbox/expire-token")
    def expire_token():
        return jsonify(ok=True, expired=state.expire_token())

    @app.get("/sandbox/state")
    def get_state():
        return jsonify(state.snapshot())

    @app.post("/sandbox/faults")
    def add_fault():
        fault, problem = _parse_fault(_json_body())
        if problem:
            return jsonify(error="bad_fault", message=problem), 400
        path = fault.pop("path")
        state.add_fault(path, fault)
        return jsonify(ok=True, path=path, **fault)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(errcode=err.code, errmsg=f"{err.name}: {request.path}"), err.code

    return app


def _parse_fault(body: dict | None) -> tuple[dict, str | None]:
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


_SECRET_PARAMS = {"secret", "js_code", "access_token", "code"}


class RedactingRequestHandler(WSGIRequestHandler):
    """Access log without secrets: the dev server would otherwise print the app
    secret, login codes and access tokens carried in query strings."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            parts = urlsplit(self.path)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
            line = f"{self.command} {parts.path}{'?' + query if query else ''} {self.request_version}"
        except AttributeError:
            line = "(bad request line)"
        self.log("info", '"%s" %s %s', line, code, size)
