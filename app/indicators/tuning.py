"""The PostgreSQL settings an indicator statement runs with, for its transaction only."""

from __future__ import annotations

from sqlalchemy import column, func, literal, select, table

from app.extensions import db


def tune_session(few_residents: bool = False) -> None:
    """PostgreSQL, for this transaction only: room for the hashed subplans of a district-wide count,
    and no JIT (compiling the many CASE expressions costs seconds and saves less than it costs).
    ``few_residents``: the statements evaluate a few residents (``restrict``): each set is best
    read by its resident index, which the planner picks once random reads are priced as on SSD
    (2,000 residents on the full district: 0.67 → 0.18 s, against hash joins over whole tables)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # otherwise the server's own value: an earlier few-residents read in this transaction set it
        page_cost = literal("1.1") if few_residents else _SERVER_PAGE_COST
        settings = [
            func.set_config("work_mem", "64MB", True),
            func.set_config("jit", "off", True),
            func.set_config("random_page_cost", page_cost, True),
        ]
        db.session.execute(select(*settings))


_PG_SETTINGS = table("pg_settings", column("name"), column("reset_val"))
_SERVER_PAGE_COST = select(_PG_SETTINGS.c.reset_val).where(_PG_SETTINGS.c.name == "random_page_cost").scalar_subquery()
