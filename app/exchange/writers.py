"""The writer of each sheet of the layout (app.exchange.upsert, app.exchange.upsert_contracts)."""

from __future__ import annotations

from app.exchange import layout as L
from app.exchange.upsert import write_checks, write_conditions, write_residents, write_visits
from app.exchange.upsert_contracts import write_contracts

WRITERS = {
    L.BASIC.name: write_residents,
    L.CONDITIONS.name: write_conditions,
    L.HYPERTENSION.name: write_visits,
    L.DIABETES.name: write_visits,
    L.HEALTH_CHECKS.name: write_checks,
    L.CONTRACTS.name: write_contracts,
}
