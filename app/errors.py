"""One JSON error shape for everything the API can answer with.

``{"code": <status>, "error": "<machine_code>", "message": "<text>", "errors": {...}}``

Services raise :class:`AppError` (or a subclass); Werkzeug's HTTP errors, webargs'
validation errors and unexpected exceptions are all turned into the same shape here,
so no HTML page or stack trace ever leaves the process.
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_MACHINE_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class AppError(Exception):
    """An error a client can act on; carries its HTTP status and machine code."""

    status = 400
    error = "bad_request"

    def __init__(
        self, message: str, *, error: str | None = None, status: int | None = None, errors: dict | None = None
    ):
        super().__init__(message)
        self.message = message
        if error:
            self.error = error
        if status:
            self.status = status
        self.errors = errors


class NotFound(AppError):
    status, error = 404, "not_found"

    def __init__(self, message: str = "not found", **kw):
        super().__init__(message, **kw)


class Conflict(AppError):
    status, error = 409, "conflict"


class Invalid(AppError):
    """A 422 naming the field: ``Invalid("id_number", "checksum does not match")``."""

    status, error = 422, "validation_error"

    def __init__(self, field: str, reason: str, *, error: str | None = None):
        super().__init__(f"{field}: {reason}", error=error, errors={field: [reason]})


class Unauthorized(AppError):
    status, error = 401, "unauthorized"


class Forbidden(AppError):
    status, error = 403, "forbidden"


class RateLimited(AppError):
    """429 with ``Retry-After``, raised by the login and binding throttles."""

    status, error = 429, "rate_limited"

    def __init__(self, retry_after: int, message: str = "too many attempts, try again later"):
        super().__init__(message)
        self.headers = {"Retry-After": str(max(int(retry_after), 1))}


def error_body(status: int, error: str, message: str, errors: dict | None = None) -> dict:
    body = {"code": status, "error": error, "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_response(status: int, error: str, message: str, errors: dict | None = None, headers=None):
    response = jsonify(error_body(status, error, message, errors))
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests errors by location ({"json": {...}}); clients want field -> reasons."""
    flat: dict = {}
    for location, fields in (messages or {}).items():
        if isinstance(fields, dict):
            for field, reasons in fields.items():
                flat[field] = reasons
        else:
            flat[location] = fields
    return flat


def http_error_response(error: HTTPException):
    """A werkzeug/webargs HTTP error (404, 405, 413, 422 from the schemas, 429…) in the house shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = None
    if "messages" in data or "errors" in data:
        errors = _flatten_webargs(data.get("errors") or data.get("messages"))
    message = data.get("message") or _default_message(status, error)
    if status == 422 and errors:
        message = "the request has invalid fields: " + ", ".join(sorted(errors))
    headers = data.get("headers") or {}
    if status == 429:
        headers = dict(headers)
    return error_response(status, data.get("error") or _MACHINE_CODES.get(status, "error"), message, errors, headers)


def _default_message(status: int, error: HTTPException) -> str:
    if status == 500:
        return "internal error"
    if status == 429:
        return "too many requests, slow down"
    if status == 413:
        return "request body too large"
    if status == 400 and "JSON" in (error.description or ""):
        return "the request body is not valid JSON"
    return (error.description or error.name or "error").split("\n")[0]


def register_error_handlers(app) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        return error_response(err.status, err.error, err.message, err.errors, getattr(err, "headers", None))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return http_error_response(err)
        log.exception("unhandled error")

        try:
            current_app.extensions["sqlalchemy"].session.rollback()
        except Exception:  # the connection itself may be gone
            log.warning("rollback after error failed")
        if isinstance(err, (OperationalError, InterfaceError)) or (
            isinstance(err, DBAPIError) and err.connection_invalidated
        ):
            return error_response(503, "database_unavailable", "the database is unavailable, try again shortly")
        return error_response(500, "internal_error", "internal error")
