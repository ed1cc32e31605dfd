"""What the OpenAPI document promises for every operation, kept true in one place.

Routes document only their success response (and flask-smorest adds 422 for arguments and
a ``default`` error). The errors that come from the shared machinery rather than from a
feature — no or a bad token, a role or scope refusal, an id that does not exist, a body
that is not JSON — are the same everywhere, so they are documented here once instead of
with an ``alt_response`` on each of ~90 routes, and a route cannot forget them. Path ids
are bounded here too, so the documented maximum and the router agree.
"""

from __future__ import annotations

from decimal import Decimal

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from app.common.schemas import INT_MAX, ErrorOut
from app.errors import http_error_response


class IdConverter(IntegerConverter):
    """``<int:...>`` path segments up to ``INT_MAX`` (documented as the maximum).

    Werkzeug's converter takes any number of digits; a larger id than a column holds then
    reaches the query and fails there (a 500) instead of simply not matching (404).
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            # Not "no match": werkzeug then answers 405 when the path has rules for other methods.
            raise NotFound() from None


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    "description": "repeat a creating request safely: a repeat with the same key answers the first response",
}


class CommonErrorsPlugin(BasePlugin):
    """Adds the shared error responses (house error schema) to each operation.

    - 401 everywhere (no, a bad or a revoked token; wrong credentials on the login endpoints);
    - 403 unless the operation declares ``security: []`` (the login endpoints: no role to refuse);
    - 404 when the path has a parameter (the thing named may not exist or not be visible);
    - 400 when the operation takes a request body (the body is not valid JSON);
    - the ``Idempotency-Key`` header and 409 on operations marked by ``@idempotent``.
    """

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            documented = {_status_key(code) for code in responses}

            def add(status: int, name: str) -> None:
                if str(status) not in documented:
                    responses[str(status)] = name

            add(401, "UNAUTHORIZED")
            if operation.get("security") != []:
                add(403, "FORBIDDEN")
            if path and "{" in path:
                add(404, "NOT_FOUND")
            if "requestBody" in operation:
                add(400, "BAD_REQUEST")
            if operation.pop("x-idempotent", False):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                add(409, "CONFLICT")


def _status_key(code) -> str:
    """The key a status is documented under: 404, "404" and HTTPStatus.NOT_FOUND all give "404"."""
    try:
        return str(int(code))
    except (TypeError, ValueError):
        return str(code)


def numeric_bounds(_converter, field, ret=None, **kwargs) -> dict:
    """``Range`` bounds of a Decimal field as JSON numbers (an apispec attribute function).

    apispec serialises the bounds with the field itself, so a Decimal field documents
    ``"minimum": "0.00"`` (a string), which is not valid JSON Schema for a number.
    """
    return {
        key: float(value)
        for key, value in (ret or {}).items()
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and isinstance(value, Decimal)
    }


class JsonApi(Api):
    """flask-smorest Api whose error handler speaks the house error shape.

    ``ERROR_SCHEMA`` makes the OpenAPI document describe that same shape: flask-smorest's own
    error schema has ``status`` where this API answers ``error``, so every documented error
    response would otherwise contradict the real body.
    """

    ERROR_SCHEMA = ErrorOut

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_converter(IdConverter, integerconverter2paramschema)

    def init_app(self, app, **kwargs):
        app.url_map.converters["int"] = IdConverter  # before any blueprint adds its rules
        super().init_app(app, **kwargs)

    def _init_spec(self, *, extra_plugins=None, **kwargs):
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), CommonErrorsPlugin()], **kwargs)
        self.ma_plugin.converter.add_attribute_function(numeric_bounds)

    def handle_http_exception(self, error: HTTPException):
        return http_error_response(error)
