"""Which residents' indicator facts may have moved since the last build: database triggers on every
table the indicators read write the resident's id into ``indicator_changes``
(:class:`app.indicators.models.IndicatorChange`).

Triggers, not application hooks, because the indicators read tables that many paths write — the
API's services, set-based jobs, an import's ``COPY``, a cascade — and one forgotten path would make
a count silently wrong. On PostgreSQL one trigger per statement and event, over its transition
tables (a ``COPY`` of 100,000 rows is one ``INSERT … SELECT DISTINCT``); on SQLite one per row.
A row that names no resident (a survey's settings apply to all its respondents) is written as NULL:
"anyone may have moved", which sends the counts back to the full evaluation until the next build.

``tests/indicators/test_indicator_facts.py`` checks that every table a full count reads is tracked
here, so an indicator reading a new table cannot be added without its trigger.
"""

from __future__ import annotations

import re

from sqlalchemy import event, text

#: table → SQL for the resident a row is about (``r`` is the row), or None: "anyone".
TRACKED: dict[str, str | None] = {
    "residents": "r.id",
    "conditions": "r.resident_id",
    "followup_visits": "r.resident_id",
    "followup_plans": "r.resident_id",
    "contact_attempts": "r.resident_id",
    "referrals": "r.resident_id",
    "health_checks": "r.resident_id",
    "service_records": "r.resident_id",
    "child_checks": "r.resident_id",
    "pregnancies": "r.resident_id",
    "antenatal_visits": "r.resident_id",
    "postpartum_visits": "r.resident_id",
    "contracts": "r.resident_id",
    "contract_deliveries": "(SELECT c.resident_id FROM contracts c WHERE c.id = r.contract_id)",
    "survey_responses": "r.resident_id",
    "surveys": None,
}


def _postgresql(table: str, resident: str | None) -> list[str]:
    function = f"indicator_changes_{table}"
    pick = f"SELECT DISTINCT {resident} FROM {{rows}} r" if resident else "SELECT NULL FROM {rows} LIMIT 1"
    body = (
        "BEGIN\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        f"    INSERT INTO indicator_changes (resident_id) {pick.format(rows='new_rows')};\n"
        "  END IF;\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        f"    INSERT INTO indicator_changes (resident_id) {pick.format(rows='old_rows')};\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END"
    )
    statements = [f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$"]
    for event_name, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        name = f"{function}_{event_name.lower()}"
        statements += [
            f'DROP TRIGGER IF EXISTS {name} ON "{table}"',
            f'CREATE TRIGGER {name} AFTER {event_name} ON "{table}" REFERENCING {referencing} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    return statements


def _sqlite(table: str, resident: str | None) -> list[str]:
    statements = []
    for event_name, rows in (("INSERT", ("NEW",)), ("UPDATE", ("NEW", "OLD")), ("DELETE", ("OLD",))):
        name = f"indicator_changes_{table}_{event_name.lower()}"
        inserts = "".join(
            "INSERT INTO indicator_changes (resident_id) VALUES ("
            + re.sub(r"\br\.", f"{row}.", resident or "NULL")
            + "); "
            for row in rows
        )
        statements += [
            f"DROP TRIGGER IF EXISTS {name}",
            f'CREATE TRIGGER {name} AFTER {event_name} ON "{table}" FOR EACH ROW BEGIN {inserts}END',
        ]
    return statements


def trigger_statements(dialect: str, tracked: dict | None = None) -> list[str]:
    """The DDL of the triggers of ``tracked`` (table → resident, as :data:`TRACKED`; default it)."""
    make = _postgresql if dialect == "postgresql" else _sqlite
    return [
        statement
        for table, resident in (TRACKED if tracked is None else tracked).items()
        for statement in make(table, resident)
    ]


def drop_statements(dialect: str, tables=None) -> list[str]:
    tables = list(TRACKED if tables is None else tables)
    if dialect != "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS indicator_changes_{table}_{e}"
            for table in tables
            for e in ("insert", "update", "delete")
        ]
    return [f"DROP FUNCTION IF EXISTS indicator_changes_{table}() CASCADE" for table in tables]


def create_triggers(connection, tracked: dict | None = None) -> None:
    """``tracked``: a migration passes the tables and residents of its revision (a copy of
    :data:`TRACKED` as it was), so that a later change to the list — a table created by a later
    migration, a changed expression — does not change what an earlier migration creates."""
    for statement in trigger_statements(connection.dialect.name, tracked):
        connection.execute(text(statement))


def install(metadata) -> None:
    """Create the triggers whenever the schema is created from the models (tests, ``create_all``);
    migration 0009 creates them on a migrated database."""

    @event.listens_for(metadata, "after_create")
    def _after_create(target, connection, **kw):
        create_triggers(connection)
