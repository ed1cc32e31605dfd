"""Schema building blocks shared by features."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import marshmallow as ma

# Integers the API takes: what the narrowest column holds (most ids are INTEGER on PostgreSQL). A
# larger value reaching a query is a 500, not a "not found": PostgreSQL casts the parameter to the
# column's type ("integer out of range"), SQLite cannot bind anything past 64 bits.
INT_MAX = 2**31 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class Strict(ma.Schema):
    """Input schemas reject unknown fields (no mass assignment) and values no column can take:
    integers past ``INT_MAX``, fractions for integer fields, and text with NUL characters
    (PostgreSQL refuses them) or unpaired surrogates (UTF-8 cannot encode them)."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _whole_numbers_are_whole(self, data, **kwargs):
        # An integer field takes 2.5 as 2 (marshmallow truncates): what is stored would not be
        # what was sent. Only JSON carries floats (query strings are text), so only they are seen.
        if not isinstance(data, Mapping):
            return data
        errors = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            many = isinstance(field, ma.fields.List)
            if not isinstance(field.inner if many else field, ma.fields.Integer) or key not in data:
                continue
            value = data[key]
            values = value if many and isinstance(value, list) else [value]
            if any(isinstance(v, float) and not v.is_integer() for v in values):
                errors[key] = ["must be a whole number"]
        if errors:
            raise ma.ValidationError(errors)
        return data

    @ma.validates_schema
    def _values_fit_a_column(self, data, **kwargs):
        errors = {}
        for name, value in data.items():
            reason = _unstorable(value)
            if reason:
                errors[name] = [reason]
        if errors:
            raise ma.ValidationError(errors)


def _unstorable(value) -> str | None:
    """Why ``value`` (or anything inside it) cannot be stored or compared, if it cannot."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -INT_MAX - 1 <= value <= INT_MAX else "number out of range"
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL characters"
        # JSON's "\ud800" escape decodes to half a UTF-16 pair, which no UTF-8 column can take.
        return "must be valid Unicode (no unpaired surrogates)" if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set)):
        return next((reason for reason in map(_unstorable, value) if reason), None)
    return None


class Out(ma.Schema):
    class Meta:
        ordered = True


# Field builders for the clinical forms (health checks, follow-ups): a measurement is optional
# but, when given, must be a plausible value — out of range is a 422 naming the field.
def bounded_float(lo, hi, **kw):
    return ma.fields.Float(validate=ma.validate.Range(min=lo, max=hi), allow_none=True, allow_nan=False, **kw)


def bounded_int(lo, hi, **kw):
    return ma.fields.Integer(validate=ma.validate.Range(min=lo, max=hi), allow_none=True, strict=True, **kw)


def text(max_len, **kw):
    return ma.fields.String(validate=ma.validate.Length(min=1, max=max_len), **kw)


# C0 and C1 controls, DEL, and the Unicode line/paragraph separators: never part of a name, and the
# ones XML cannot carry break every spreadsheet the name is written to.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def no_control_characters(value: str) -> None:
    if not isinstance(value, str):
        return
    if "\x00" in value:  # the reason every Strict schema gives for NUL
        raise ma.ValidationError("must not contain NUL characters")
    if _CONTROL.search(value):
        raise ma.ValidationError("must not contain control characters (tabs, line breaks …)")


def name_field(max_len, **kw):
    """A name or title people see in lists and exports (institution, team, staff, package, survey…):
    1..``max_len`` characters on one line, no control characters."""
    return ma.fields.String(validate=[ma.validate.Length(min=1, max=max_len), no_control_characters], **kw)


def at_most_decimals(places: int):
    """A validator for ``Decimal`` fields: refuse what a NUMERIC(…, places) column would round
    (marshmallow's ``places=`` rounds silently instead)."""

    def validate(value: Decimal) -> None:
        _sign, digits, exponent = value.as_tuple()
        trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
        if any(digits) and exponent + trailing < -places:
            raise ma.ValidationError(f"at most {places} decimals")

    return validate


class FreeForm(ma.fields.Dict):
    """A JSON object whose inside the API does not prescribe (e.g. living conditions), bounded so
    that it is stored and read back like any other value: at most ``max_depth`` levels of
    objects/lists (the object itself is one), at most ``max_bytes`` as UTF-8 JSON, keys strings,
    numbers finite (PostgreSQL's JSON refuses NaN and Infinity)."""

    def __init__(self, *, max_depth: int = 5, max_bytes: int = 8192, **kw):
        super().__init__(**kw)
        self.max_depth, self.max_bytes = max_depth, max_bytes
        self.metadata.setdefault(
            "description", f"a JSON object: at most {max_depth} levels deep and {max_bytes} bytes as JSON"
        )

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        reason = _free_form_problem(value, 1, self.max_depth)
        if reason:
            raise ma.ValidationError(reason)
        if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > self.max_bytes:
            raise ma.ValidationError(f"too large: at most {self.max_bytes} bytes as JSON")
        return value


def _free_form_problem(value, depth: int, max_depth: int) -> str | None:
    if isinstance(value, (dict, list)):
        if depth > max_depth:
            return f"nested too deep: at most {max_depth} levels"
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return "keys must be strings"
            reason = next((r for r in map(_unstorable, value) if r), None)
            if reason:
                return reason
            value = value.values()
        return next((r for r in (_free_form_problem(v, depth + 1, max_depth) for v in value) if r), None)
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite (no NaN or Infinity)"
    if isinstance(value, (str, int)):  # bool is an int
        return _unstorable(value)
    if value is None or isinstance(value, float):
        return None
    return "only JSON values (objects, lists, strings, numbers, booleans, null)"


def choice(options, **kw):
    return ma.fields.String(validate=ma.validate.OneOf(options), **kw)


def evaluation_day(**kw):
    """An ``on`` / ``as_of`` day for indicators and metrics, in the years they are defined for
    (``year`` is 2000–2100): their rules step years back and days on, which leaves the calendar
    near year 1 or 9999 (a 500, not an empty report)."""
    return ma.fields.Date(validate=ma.validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)), **kw)


class ErrorOut(Out):
    """The one error body (app.errors); documented as every operation's error responses."""

    code = ma.fields.Integer()
    error = ma.fields.String()
    message = ma.fields.String()
    errors = ma.fields.Dict()
