"""Application factory."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

import swagger_ui_bundle
from flask import Flask, jsonify, request, send_from_directory
from flask_cors import CORS
from sqlalchemy import event, text
from werkzeug.middleware.proxy_fix import ProxyFix

from app.access.actors import session_revoked
from app.common import json_depth, unit_of_work
from app.common.rate_limits import storage_uri  # importing it registers the appdb:// storage
from app.errors import error_response, register_error_handlers
from app.extensions import api, db, jwt, limiter, migrate
from config import Config, load_config

# Feature packages whose routes.py exposes ``blp`` (a flask-smorest Blueprint).
FEATURES = (
    "accounts",
    "orgs",
    "residents",
    "notify",
    "archive",
    "family",
    "maternal",
    "contracts",
    "surveys",
    "appointments",
    "followups",
    "referrals",
    "indicators",
    "exchange",
)
# Feature packages whose cli.py exposes ``commands`` (click commands / groups).
CLI_MODULES = (
    "app.demo.cli",
    "app.wechat.cli",
    "app.notify.cli",
    "app.scheduler.cli",
    "app.residents.cli",
    "app.indicators.cli",
    "app.exchange.cli",
)


def create_app(config: Config | str | None = None) -> Flask:
    if not isinstance(config, Config):
        config = load_config(config)
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config)
    app.config["OPENAPI_SWAGGER_UI_PATH"] = "docs"
    app.config["OPENAPI_SWAGGER_UI_URL"] = "/api/docs/assets/"
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Counters shared by every worker and process: the database, or Redis when configured.
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(config.REDIS_URL))
    if config.TRUSTED_PROXY_HOPS:
        # The client address (limits, access log) from X-Forwarded-For, believing exactly
        # that many proxies; with none, forwarded headers are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUSTED_PROXY_HOPS, x_proto=config.TRUSTED_PROXY_HOPS)

    json_depth.register(app)  # first of the before_request hooks: before the rate limits read a body
    db.init_app(app)
    _tune_sqlite(app)
    _tune_postgresql(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    jwt.init_app(app)
    limiter.init_app(app)
    api.init_app(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
            "security": [{"bearerAuth": []}],
        },
    )

    register_error_handlers(app)
    unit_of_work.install(app)
    _register_jwt_callbacks()
    _import_models()
    for feature in FEATURES:
        module = importlib.import_module(f"app.{feature}.routes")
        api.register_blueprint(module.blp)
    # The top layer: importing it imports every feature, so it is read when an app is built,
    # not whenever some submodule of the package is imported.
    from app import wiring

    wiring.install()
    for name in CLI_MODULES:
        for command in importlib.import_module(name).commands:
            app.cli.add_command(command)
    _register_platform_routes(app)
    _register_security_headers(app)
    return app


def _tune_sqlite(app: Flask) -> None:
    """WAL and a busy timeout let the API, scheduler and dispatcher share the SQLite file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()


def _tune_postgresql(app: Flask) -> None:
    """Sessions in UTC: instants are stored and compared in UTC, and a UTC session hands them back
    with ``timezone.utc``, so reading one costs no time-zone conversion in Python (the server's own
    zone does not matter). Set per new connection rather than as a startup option, which would
    replace any ``options`` in DATABASE_URL and which connection poolers may refuse."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _utc(dbapi_connection, _record):
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            dbapi_connection.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.autocommit = autocommit


def _migrations_dir():
    return Path(__file__).resolve().parent.parent / "migrations"


def _import_models() -> None:
    """Import every models module so metadata (and Alembic) sees all tables."""
    for info in pkgutil.iter_modules(__path__):
        try:
            importlib.import_module(f"app.{info.name}.models")
        except ModuleNotFoundError as err:
            if err.name != f"app.{info.name}.models":
                raise
    importlib.import_module("app.common.idempotency")
    importlib.import_module("app.common.rate_limits")


def _register_jwt_callbacks() -> None:

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        return session_revoked(payload)

    @jwt.unauthorized_loader
    def _missing(reason):
        return error_response(401, "unauthorized", "missing access token")

    @jwt.invalid_token_loader
    def _invalid(reason):
        return error_response(401, "token_invalid", "the token is invalid")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return error_response(401, "token_expired", "the token has expired, refresh it")

    @jwt.revoked_token_loader
    def _revoked_answer(_header, _payload):
        return error_response(401, "token_revoked", "the token was revoked, log in again")

    @jwt.needs_fresh_token_loader
    def _fresh(_header, _payload):
        return error_response(401, "fresh_token_required", "log in again")

    @jwt.token_verification_failed_loader
    def _failed(_header, _payload):
        return error_response(401, "token_invalid", "the token is invalid")


def _register_platform_routes(app: Flask) -> None:

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        try:
            # A real table, not SELECT 1: an empty or wrong database is not ready either.
            db.session.execute(text("SELECT 1 FROM institutions WHERE 1 = 0"))
        except Exception:
            db.session.rollback()
            return jsonify(code=503, error="database_unavailable", message="the database does not answer"), 503
        return jsonify(status="ready")

    # Swagger UI assets ship with the swagger-ui-bundle package: no CDN at run time.
    @app.get("/api/docs/assets/<path:filename>")
    def swagger_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


def _register_security_headers(app: Flask) -> None:

    # CORS only for the configured origins (the mini-program itself does not need it).
    if app.config.get("CORS_ORIGINS"):
        CORS(
            app,
            origins=app.config["CORS_ORIGINS"],
            resources={r"/api/*": {}},
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )

    @app.after_request
    def _headers(response):

        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/v1"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
