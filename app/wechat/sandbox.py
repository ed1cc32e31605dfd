"""A loopback stand-in for the WeChat server API, for development, demos and tests.

The product talks to WeChat over HTTP only, so the most faithful fake is another
HTTP server speaking the same paths and JSON bodies (errors are HTTP 200 with
``errcode``/``errmsg``, as WeChat does). The client code under test is then the
real client, with its real timeouts and error mapping; nothing is patched.

State lives in memory in one ``SandboxState`` guarded by a lock, because the
sandbox is served by a threaded server (``app.wechat.sandbox_state``, with the faults).
``/sandbox/*`` endpoints (not part of WeChat) let tests read what was "sent", inject
faults and expire the token.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler

from app.wechat.sandbox_state import TOKEN_TTL_SECONDS, WECHAT_PATHS, SandboxState, parse_fault

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
        fault, problem = parse_fault(_json_body())
        if problem:
            return jsonify(error="bad_fault", message=problem), 400
        path = fault.pop("path")
        state.add_fault(path, fault)
        return jsonify(ok=True, path=path, **fault)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(errcode=err.code, errmsg=f"{err.name}: {request.path}"), err.code

    return app


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
