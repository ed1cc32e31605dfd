"""The imports' request and response bodies (POST /imports, GET /imports/{id})."""

from __future__ import annotations

import marshmallow as ma

from app.common.schemas import Strict
from app.exchange import layout as L
from app.exchange.models import STATUSES


class ImportArgs(Strict):
    institution_id = ma.fields.Integer(metadata={"description": "default: the caller's institution"})
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "check and count, write nothing"})
    sheet = ma.fields.String(
        validate=ma.validate.OneOf([s.name for s in L.SHEETS]),
        metadata={"description": "the sheet a csv file is (default: the file's name)"},
    )


class ImportFile(ma.Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportQueuedOut(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})


class SheetCountsOut(ma.Schema):
    rows = ma.fields.Integer()
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    rejected = ma.fields.Integer()
    ignored_columns = ma.fields.List(ma.fields.String())


class ImportOut(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    dry_run = ma.fields.Boolean()
    file_name = ma.fields.String()
    institution_id = ma.fields.Integer()
    rows = ma.fields.Integer(metadata={"description": "rows read so far"})
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    rejected = ma.fields.Integer()
    progress = ma.fields.Float(metadata={"description": "0–1; 1 when done"})
    sheets = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(SheetCountsOut))
    error = ma.fields.String(allow_none=True, metadata={"description": "why a failed import stopped"})
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
