"""JSON columns are read by orjson, and what it refuses but the standard library writes — NaN, which
``json.dumps`` puts in a SQLite JSON column — is still read, as before."""

from __future__ import annotations

import math

from app.extensions import db


def test_the_engine_reads_json_columns_and_nan_as_before(app):
    with app.app_context():
        loads = db.engine.dialect._json_deserializer
        assert loads('{"a": [1, 2.5, "血压", null]}') == {"a": [1, 2.5, "血压", None]}
        assert math.isnan(loads('{"glucose": NaN}')["glucose"])
