"""Schema building blocks shared by features."""
from __future__ import annotations

from datetime import date

import marshmallow as ma


# Integers the API takes: what the narrowest column holds (most ids are INTEGER on PostgreSQL). A
# larger value reaching a query is a 500, not a "not found": PostgreSQL casts the parameter to the
# column's type ("integer out of range"), SQLite cannot bind anything past 64 bits.
INT_MAX = 2**31 - 1


class Strict(ma.Schema):
    """Input schemas reject unknown fields (no mass assignment) and values no column can take:
    integers past ``INT_MAX`` and text with NUL characters (PostgreSQL refuses them)."""

    class Meta:
        unknown = ma.RAISE

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
        return "must not contain NUL characters" if "\x00" in value else None
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


def choice(options, **kw):
    return ma.fields.String(validate=ma.validate.OneOf(options), **kw)


def evaluation_day(**kw):
    """An ``on`` / ``as_of`` day for indicators and metrics, in the years they are defined for
    (``year`` is 2000–2100): their rules step years back and days on, which leaves the calendar
    near year 1 or 9999 (a 500, not an empty report)."""
    return ma.fields.Date(validate=ma.validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)), **kw)


def trimmed(**kw):
    """A required-by-default non-blank string, stripped."""
    return ma.fields.String(validate=ma.validate.Length(min=1, max=kw.pop("max", 200)), **kw)


class ErrorOut(Out):
    """The one error body (app.errors); documented as every operation's error responses."""

    code = ma.fields.Integer()
    error = ma.fields.String()
    message = ma.fields.String()
    errors = ma.fields.Dict()
