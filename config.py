"""Configuration read from the environment, parsed strictly.

Every setting an operator may change is an environment variable listed in the
README. Parsing fails loudly at start-up rather than at the first request: a
typo in ``LOGIN_RATE_LIMIT`` or a non-numeric ``MAX_CONTENT_LENGTH`` must stop
the process, not be ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson

BASE_DIR = Path(__file__).resolve().parent


def _json_loads(text):
    """JSON columns read with orjson: the archive's pages carry a hundred JSON values a read (the
    same Python values as the standard library's parser, a third of its time). What orjson refuses
    but the standard library writes (NaN, on SQLite) is read by the standard library, as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


INSTANCE_DIR = BASE_DIR / "instance"

_DEV_SECRET = "dev-only-secret-change-me"
_DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
_DEV_ID_KEY = "dev-only-id-number-key-change-me"


class ConfigError(RuntimeError):
    pass


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _hour_range(name: str, default: str) -> tuple[int, int]:
    raw = _env(name, default)
    try:
        start, end = (int(part) for part in raw.split("-"))
    except ValueError:
        raise ConfigError(f"{name} must look like '21-8', got {raw!r}") from None
    if not (0 <= start <= 23 and 0 <= end <= 23):
        raise ConfigError(f"{name} hours must be 0..23, got {raw!r}")
    return start, end


def _json_object(name: str) -> dict:
    raw = _env(name, "{}")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object, got {raw!r}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{name} must map message kinds to template ids")
    return value


def _int_object(name: str) -> dict[str, int]:
    raw = _env(name, "{}")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object, got {raw!r}") from None
    if not isinstance(value, dict) or not all(type(v) is int and v >= 0 for v in value.values()):
        raise ConfigError(f"{name} must map names to whole numbers of days/hours, got {raw!r}")
    return value


def _database_url(default_file: str) -> str:
    url = _env("DATABASE_URL")
    if url is None:
        INSTANCE_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / default_file}"
    # Operators paste URLs from other tools; accept the common spellings.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    ENV_NAME = "development"
    TESTING = False
    SECRET_KEY = _DEV_SECRET
    JWT_SECRET_KEY = _DEV_JWT_SECRET
    ID_NUMBER_KEY = _DEV_ID_KEY

    def __init__(self) -> None:
        self.SECRET_KEY = _env("SECRET_KEY", self.SECRET_KEY)
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY", self.JWT_SECRET_KEY)
        self.ID_NUMBER_KEY = _env("ID_NUMBER_KEY", self.ID_NUMBER_KEY)
        # Older keys still able to decrypt during a key rotation (comma separated).
        self.ID_NUMBER_OLD_KEYS = [k for k in (_env("ID_NUMBER_OLD_KEYS", "") or "").split(",") if k]
        self.SQLALCHEMY_DATABASE_URI = _database_url(self.default_db_file)
        # No round trip per checkout by default: a connection the server dropped fails one request,
        # which invalidates the whole pool (SQLAlchemy recycles every connection older than the
        # failure), and DATABASE_POOL_RECYCLE_SECONDS retires connections before idle timeouts.
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_pre_ping": _int("DATABASE_POOL_PRE_PING", 0) == 1,
            "pool_recycle": _int("DATABASE_POOL_RECYCLE_SECONDS", 1800),
            # A failed statement's text carries its parameters — names, phones, ID-number hashes —
            # into exceptions and so into log lines: never.
            "hide_parameters": True,
            "json_deserializer": _json_loads,
        }
        self.REDIS_URL = _env("REDIS_URL")
        self.TZ_NAME = _env("TZ_NAME", "Asia/Shanghai")

        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 1024 * 1024)
        # JSON bodies nesting deeper are a 400 before anything parses them (app.common.json_depth);
        # Python's parser recurses per level and fails near 1000.
        self.MAX_JSON_DEPTH = _int("MAX_JSON_DEPTH", 32)
        if not 1 <= self.MAX_JSON_DEPTH <= 200:
            raise ConfigError(f"MAX_JSON_DEPTH must be 1..200, got {self.MAX_JSON_DEPTH}")
        # How long an Idempotency-Key answers repeats (and refuses other requests) before it expires.
        self.IDEMPOTENCY_KEY_HOURS = _int("IDEMPOTENCY_KEY_HOURS", 24)
        self.JWT_ACCESS_TOKEN_EXPIRES = _int("JWT_ACCESS_MINUTES", 15) * 60
        self.JWT_REFRESH_TOKEN_EXPIRES = _int("JWT_REFRESH_DAYS", 30) * 86400
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
        self.BIND_RATE_LIMIT = _env("BIND_RATE_LIMIT", "10 per hour")
        # Failed staff logins per username (clients without that user's device token), and
        # failed archive bindings per target (the ID number, the name) across WeChat accounts.
        self.LOGIN_USER_FAILURE_LIMIT = _env("LOGIN_USER_FAILURE_LIMIT", "20 per hour")
        self.BIND_TARGET_RATE_LIMIT = _env("BIND_TARGET_RATE_LIMIT", "10 per day")
        # Reverse proxies in front of the web workers whose X-Forwarded-For is believed.
        self.TRUSTED_PROXY_HOPS = _int("TRUSTED_PROXY_HOPS", 0)
        self.SURVEY_ANSWER_RATE_LIMIT = _env("SURVEY_ANSWER_RATE_LIMIT", "30 per hour")
        self.CORS_ORIGINS = [o for o in (_env("CORS_ORIGINS", "") or "").split(",") if o]

        self.WECHAT_API_BASE = _env("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/")
        self.WECHAT_APPID = _env("WECHAT_APPID", "wx-demo-appid")
        self.WECHAT_SECRET = _env("WECHAT_SECRET", "wx-demo-secret")
        self.WECHAT_TIMEOUT_SECONDS = float(_int("WECHAT_TIMEOUT_MS", 5000)) / 1000
        self.WECHAT_MINIPROGRAM_STATE = _env("WECHAT_MINIPROGRAM_STATE", "formal")

        self.QUIET_HOURS = _hour_range("QUIET_HOURS", "21-8")
        self.WECHAT_TEMPLATES = _json_object("WECHAT_TEMPLATES")
        self.SCHEDULER_LEASE_SECONDS = _int("SCHEDULER_LEASE_SECONDS", 30)
        # Dispatcher: rows claimed per round, and how long a claim is held without renewal.
        self.NOTIFY_BATCH_SIZE = _int("NOTIFY_BATCH_SIZE", 100)
        self.NOTIFY_LEASE_SECONDS = _int("NOTIFY_LEASE_SECONDS", 120)
        # WeChat sends a dispatcher has in flight at once (each waits on the network, not the CPU).
        self.NOTIFY_SEND_CONCURRENCY = _int("NOTIFY_SEND_CONCURRENCY", 16)
        # Retention (docs/operations.md): access-log rows are kept this long (default 3 years and
        # a day), finished outbox rows this long; the daily retention jobs delete what is older.
        self.ACCESS_LOG_RETENTION_DAYS = _int("ACCESS_LOG_RETENTION_DAYS", 1096)
        self.OUTBOX_RETENTION_DAYS = _int("OUTBOX_RETENTION_DAYS", 90)
        for name in ("ACCESS_LOG_RETENTION_DAYS", "OUTBOX_RETENTION_DAYS"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        self.DEMO_PASSWORD = _env("DEMO_PASSWORD", "demo-pass-2024")

        # Appointments: booking and cancelling cut-offs, reminder times.
        self.BOOKING_CLOSES_MINUTES_BEFORE = _int("BOOKING_CLOSES_MINUTES_BEFORE", 60)
        self.RESIDENT_CANCEL_CUTOFF_MINUTES = _int("RESIDENT_CANCEL_CUTOFF_MINUTES", 120)
        self.DAY_BEFORE_REMINDER_HOUR = _int("DAY_BEFORE_REMINDER_HOUR", 18)
        self.SOON_REMINDER_MINUTES_BEFORE = _int("SOON_REMINDER_MINUTES_BEFORE", 120)
        # Follow-up windows, any subset of app.followups.rules.DEFAULT_WINDOW.
        self.FOLLOWUP_WINDOW = _int_object("FOLLOWUP_WINDOW")
        # Referral: the days a hospital has to answer an up referral before the team is asked to chase it.
        self.REFERRAL_FEEDBACK_DAYS = _int("REFERRAL_FEEDBACK_DAYS", 7)
        if not 1 <= self.REFERRAL_FEEDBACK_DAYS <= 90:
            raise ConfigError(f"REFERRAL_FEEDBACK_DAYS must be 1 … 90, got {self.REFERRAL_FEEDBACK_DAYS}")
        # Imports (docs/import.md): the largest upload (kept in the database until imported), and how
        # long a running import may go without a heartbeat before a worker resumes it.
        self.IMPORT_MAX_BYTES = _int("IMPORT_MAX_BYTES", 64 * 1024 * 1024)
        if not 1024 <= self.IMPORT_MAX_BYTES <= 1024**3:
            raise ConfigError(f"IMPORT_MAX_BYTES must be 1 KiB … 1 GiB, got {self.IMPORT_MAX_BYTES}")
        self.IMPORT_STALE_MINUTES = _int("IMPORT_STALE_MINUTES", 10)
        if not 1 <= self.IMPORT_STALE_MINUTES <= 1440:
            raise ConfigError(f"IMPORT_STALE_MINUTES must be 1 … 1440, got {self.IMPORT_STALE_MINUTES}")
        # today's indicators from maintained facts (app/indicators/facts.py): rebuilt by the
        # scheduler past REBUILD_AFTER changed residents; counted in full past MAX_CHANGED
        self.INDICATOR_FACTS_REBUILD_AFTER = _int("INDICATOR_FACTS_REBUILD_AFTER", 2000)
        self.INDICATOR_FACTS_MAX_CHANGED = _int("INDICATOR_FACTS_MAX_CHANGED", 20000)
        if not 0 <= self.INDICATOR_FACTS_REBUILD_AFTER <= self.INDICATOR_FACTS_MAX_CHANGED:
            raise ConfigError("INDICATOR_FACTS_REBUILD_AFTER must be 0 … INDICATOR_FACTS_MAX_CHANGED")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")

        # flask-smorest / OpenAPI
        self.API_TITLE = "Family-doctor service API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.JSON_AS_ASCII = False
        self.JWT_TOKEN_LOCATION = ["headers"]
        self.PROPAGATE_EXCEPTIONS = False

    default_db_file = "family_doctor.sqlite3"

    def validate(self) -> None:
        """Refuse settings that break a promise; subclasses add their own checks."""
        # One renewed lease must outlast the longest send: a token fetch, the send, a token
        # refresh and the resend, each up to the WeChat timeout. Otherwise a slow WeChat lets
        # a second dispatcher claim a row while it is still being sent.
        longest_send = 4 * self.WECHAT_TIMEOUT_SECONDS + 2
        if self.NOTIFY_LEASE_SECONDS < longest_send:
            raise ConfigError(
                f"NOTIFY_LEASE_SECONDS must be at least {longest_send:g} "
                f"(4 x WECHAT_TIMEOUT_MS + 2 s), got {self.NOTIFY_LEASE_SECONDS}"
            )


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    default_db_file = "test.sqlite3"

    def __init__(self) -> None:
        super().__init__()
        self.LOGIN_RATE_LIMIT = _env("TEST_LOGIN_RATE_LIMIT", "5 per minute")


class ProductionConfig(Config):
    ENV_NAME = "production"

    def validate(self) -> None:
        super().validate()
        defaults = {
            "SECRET_KEY": _DEV_SECRET,
            "JWT_SECRET_KEY": _DEV_JWT_SECRET,
            "ID_NUMBER_KEY": _DEV_ID_KEY,
        }
        weak = [name for name, value in defaults.items() if getattr(self, name) == value]
        if weak:
            raise ConfigError("refusing to start in production with default secrets: " + ", ".join(weak))
        if len(self.JWT_SECRET_KEY) < 32:
            raise ConfigError("JWT_SECRET_KEY must be at least 32 characters")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    name = name or _env("APP_ENV", "development")
    try:
        config = CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None
    config.validate()
    return config
