"""Refuse JSON bodies nested deeper than ``MAX_JSON_DEPTH`` before anything parses them.

Python's ``json`` parser recurses once per ``[`` or ``{``: a body of a few thousand brackets (well
under ``MAX_CONTENT_LENGTH``) raises ``RecursionError``, which neither Flask's
``get_json(silent=True)`` nor webargs catch — a 500 wherever the body is read, the rate limits'
key functions included, and so before any limit is counted. Every reader parses the body
itself (Flask's ``get_json``, webargs' ``parse_json``), so one check in front of all of them is a
linear scan of the raw bytes, in a ``before_request`` hook that runs before every other one.

The same scan refuses integers longer than Python converts (``sys.get_int_max_str_digits()``,
4300 digits): the parser raises a plain ``ValueError`` for them, which webargs does not catch.
"""

from __future__ import annotations

import json
import re
import sys
from itertools import accumulate

from flask import Flask, current_app, request

# A JSON string, escapes included: its brackets are text, not nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _byte in b"[{":
    _STEP[_byte] = 1
for _byte in b"]}":
    _STEP[_byte] = -1


def _outside_strings(body: bytes) -> bytes:
    encoding = json.detect_encoding(body)
    if encoding != "utf-8":
        # In UTF-16/32 other characters' bytes may look like brackets or quotes; in UTF-8 never.
        body = body.decode(encoding, errors="replace").encode("utf-8")
    return _STRING.sub(b"", body)


def json_depth(body: bytes, *, outside_strings: bytes | None = None) -> int:
    """How deep ``body`` nests: the most brackets open at once, outside strings (0 for a scalar).

    Linear and at C speed (a regular expression, ``bytes.translate``, ``accumulate``): about 40 ms
    for a megabyte of brackets. The body need not be valid JSON; an unclosed ``[[[[`` counts too.
    """
    if outside_strings is None:
        outside_strings = _outside_strings(body)
    brackets = outside_strings.translate(None, _NOT_A_BRACKET)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def register(app: Flask) -> None:
    """Install the check; call it before anything else registers a ``before_request`` hook
    (Flask-Limiter checks its limits, calling the key functions, in its own)."""

    @app.before_request
    def _refuse_json_the_parser_cannot_take():
        if not request.is_json:  # the only bodies Flask's get_json and webargs parse
            return None
        limit = current_app.config["MAX_JSON_DEPTH"]
        body = request.get_data(cache=True)
        digits = sys.get_int_max_str_digits() or None  # 0: no limit
        if len(body) <= min(limit, digits or limit):  # n bytes nest at most n deep
            return None
        from app.errors import error_response

        rest = _outside_strings(body)
        if json_depth(body, outside_strings=rest) > limit:
            return error_response(400, "json_too_deep", f"the JSON body is nested more than {limit} levels deep")
        # The lookbehind starts a match only where a run of digits starts: linear, not quadratic.
        if digits and re.search(rb"(?<![0-9])[0-9]{%d}" % (digits + 1), rest):
            return error_response(400, "bad_request", f"a number in the JSON body has more than {digits} digits")
        return None
