"""JSON answers for bodies already shaped as their schema documents them.

The hottest reads (the archive) build their body from rows in exactly the schema's shape, so a
marshmallow dump pass would only copy it: they answer through :func:`json_response`, and a test
checks the body equals the schema's dump of it. Dates and instants are written as ISO 8601 and
decimals as numbers, as the schemas' fields write them (Flask's own encoder writes HTTP dates).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from flask import Response


def _default(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_default)


def json_response(body, status: int = 200) -> Response:
    return Response(dumps(body) + "\n", status=status, mimetype="application/json")
