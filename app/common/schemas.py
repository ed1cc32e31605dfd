"""Schema building blocks shared by features."""
from __future__ import annotations

import marshmallow as ma


class Strict(ma.Schema):
    """Input schemas reject unknown fields (no mass assignment)."""

    class Meta:
        unknown = ma.RAISE


class Out(ma.Schema):
    class Meta:
        ordered = True


def trimmed(**kw):
    """A required-by-default non-blank string, stripped."""
    return ma.fields.String(validate=ma.validate.Length(min=1, max=kw.pop("max", 200)), **kw)


class ErrorOut(Out):
    code = ma.fields.Integer()
    error = ma.fields.String()
    message = ma.fields.String()
    errors = ma.fields.Dict()
