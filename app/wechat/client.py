"""The product's HTTP client for the WeChat server API.

One ``requests.Session`` per Flask app keeps connections to WeChat alive (TLS
handshakes are the slow part of a reminder run). Every failure, whether WeChat
said no or the network did, surfaces as one ``WeChatError`` so callers decide
with two questions: is it worth retrying (``transient``), and should the access
token be refreshed first (``token_invalid``).

Secrets travel in query strings and bodies, so nothing here logs URLs, bodies or
exception texts from ``requests`` (they embed the full URL), and ``session_key``
is only ever returned to the caller.
"""

from __future__ import annotations

import json
import logging
import threading

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://api.weixin.qq.com"
NETWORK_ERROR = -2
# The request went out and no answer came back in time: WeChat may have acted on it.
TIMEOUT = -3
BAD_RESPONSE = -4
TRANSIENT_ERRCODES = frozenset({-1, NETWORK_ERROR, TIMEOUT, BAD_RESPONSE, 45009})
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})


class WeChatError(Exception):
    """A failed WeChat call. Negative errcodes below -1 are ours, not WeChat's:
    -2 network error, -3 timeout, -4 unreadable answer, -1000-status for HTTP errors."""

    def __init__(self, errcode: int, errmsg: str, *, http_status: int | None = None, path: str | None = None) -> None:
        super().__init__(f"WeChat {path or 'call'} errcode={errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        self.path = path

    @property
    def transient(self) -> bool:
        """Retrying later may succeed (busy, quota, network, gateway trouble)."""
        if self.http_status is not None and (self.http_status >= 500 or self.http_status == 429):
            return True
        return self.errcode in TRANSIENT_ERRCODES

    @property
    def token_invalid(self) -> bool:
        """The access token was rejected: refresh it once and retry."""
        return self.errcode in TOKEN_ERRCODES


class WeChatClient:
    """Thin, stateless wrapper over the four WeChat endpoints the product uses."""

    def __init__(self, base_url: str, appid: str, secret: str, timeout: float = 5.0, pool_size: int = 32) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = timeout
        # One session for all threads: requests' connection pool is thread-safe, and keeping
        # ``pool_size`` at least the sends in flight keeps every connection alive for reuse.
        self.session = requests.Session()
        # No transport retries: a resent subscribe message could reach the user twice.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"WeChatClient({self.base_url!r}, appid={self.appid!r})"

    def close(self) -> None:
        self.session.close()

    def code2session(self, code: str) -> dict:
        """Exchange a ``wx.login`` code: ``{openid, session_key, unionid|None}``."""
        body = self._call(
            "GET",
            "/sns/jscode2session",
            params={"appid": self.appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"},
        )
        if not body.get("openid") or not body.get("session_key"):
            raise WeChatError(BAD_RESPONSE, "answer lacks openid/session_key", path="/sns/jscode2session")
        return {"openid": body["openid"], "session_key": body["session_key"], "unionid": body.get("unionid") or None}

    def fetch_stable_token(self, force_refresh: bool = False) -> tuple[str, int]:
        """A server access token and its remaining lifetime in seconds."""
        body = self._call(
            "POST",
            "/cgi-bin/stable_token",
            json_body={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": bool(force_refresh),
            },
        )
        try:
            return str(body["access_token"]), int(body["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise WeChatError(
                BAD_RESPONSE, "answer lacks access_token/expires_in", path="/cgi-bin/stable_token"
            ) from None

    def send_subscribe_message(
        self,
        access_token: str,
        touser: str,
        template_id: str,
        page: str | None,
        data: dict,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> dict:
        """Send one subscribe message; ``data`` values may be plain strings or
        WeChat's ``{"value": ...}`` objects. Returns ``{errcode, errmsg, msgid}``."""
        payload = {
            "touser": touser,
            "template_id": template_id,
            "data": {k: v if isinstance(v, dict) else {"value": v} for k, v in data.items()},
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            payload["page"] = page
        return self._call(
            "POST", "/cgi-bin/message/subscribe/send", params={"access_token": access_token}, json_body=payload
        )

    def get_phone_number(self, access_token: str, code: str) -> str:
        """The phone number (without country code) behind a ``getPhoneNumber`` code."""
        path = "/wxa/business/getuserphonenumber"
        body = self._call("POST", path, params={"access_token": access_token}, json_body={"code": code})
        phone = (body.get("phone_info") or {}).get("purePhoneNumber")
        if not phone:
            raise WeChatError(BAD_RESPONSE, "answer lacks phone_info.purePhoneNumber", path=path)
        return str(phone)

    def _call(self, method: str, path: str, params: dict | None = None, json_body: dict | None = None) -> dict:
        try:
            response = self.session.request(
                method, self.base_url + path, params=params, json=json_body, timeout=self.timeout
            )
        except requests.ConnectTimeout:
            # Nothing reached WeChat: as safe to retry as a refused connection.
            raise self._fail(NETWORK_ERROR, "connect timeout", path) from None
        except requests.Timeout:
            raise self._fail(TIMEOUT, "timeout", path) from None
        except requests.RequestException as exc:
            # str(exc) carries the URL and so the secret/token: keep only the type.
            raise self._fail(NETWORK_ERROR, f"network error ({type(exc).__name__})", path) from None
        status = response.status_code
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if status != 200:
            errcode = body.get("errcode") if isinstance(body, dict) else None
            raise self._fail(
                errcode if isinstance(errcode, int) and errcode else -1000 - status,
                f"HTTP {status}",
                path,
                http_status=status,
            )
        if not isinstance(body, dict):
            raise self._fail(BAD_RESPONSE, "answer is not a JSON object", path, http_status=status)
        errcode = body.get("errcode") or 0
        if errcode != 0:
            if not isinstance(errcode, int):
                raise self._fail(BAD_RESPONSE, "errcode is not an integer", path)
            raise self._fail(errcode, str(body.get("errmsg") or ""), path)
        return body

    @staticmethod
    def _fail(errcode: int, errmsg: str, path: str, http_status: int | None = None) -> WeChatError:
        error = WeChatError(errcode, errmsg, http_status=http_status, path=path)
        # Final refusals (43101, 47003...) are routine; trouble worth a look is transient.
        log.log(
            logging.WARNING if error.transient else logging.INFO,
            "wechat %s failed: errcode=%s http_status=%s transient=%s",
            path,
            errcode,
            http_status,
            error.transient,
        )
        return error


_lock = threading.Lock()


def wechat_client() -> WeChatClient:
    """The current app's client, built once from config and reused (connection pool)."""
    client = current_app.extensions.get("wechat_client")
    if client is None:
        with _lock:
            client = current_app.extensions.get("wechat_client")
            if client is None:
                config = current_app.config
                client = WeChatClient(
                    config.get("WECHAT_API_BASE") or DEFAULT_BASE,
                    config["WECHAT_APPID"],
                    config["WECHAT_SECRET"],
                    float(config.get("WECHAT_TIMEOUT_SECONDS") or 5),
                    pool_size=max(32, int(config.get("NOTIFY_SEND_CONCURRENCY") or 0)),
                )
                current_app.extensions["wechat_client"] = client
    return client
