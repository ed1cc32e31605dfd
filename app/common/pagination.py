"""``?page=&per_page=`` lists: ``{"items", "page", "per_page", "total"}``."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import func, select

from app.common.schemas import Strict
from app.extensions import db

MAX_PER_PAGE = 100


class PageArgs(Strict):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True):
    """Run ``stmt`` for one page and count the whole; returns (rows, total)."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(paged)
    rows = result.scalars().all() if scalars else result.all()
    return rows, total


def paginate_in_one(stmt, page: int, per_page: int) -> tuple[list, int]:
    """``paginate`` in one statement for costly filters: the page's rows carry the total
    (``count(*) over ()``), so the filter is evaluated once; only a page past the end counts
    separately. Returns (the first column of each row, total). Not for DISTINCT selects, whose
    window count would count before the rows are made distinct."""
    rows = db.session.execute(
        stmt.add_columns(func.count().over().label("total_rows")).limit(per_page).offset((page - 1) * per_page)
    ).all()
    if rows:
        return [row[0] for row in rows], rows[0].total_rows
    if page == 1:
        return [], 0
    return [], db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def page_body(items: list, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def page_schema(item_schema, name: str):
    """An output schema for a page of ``item_schema`` (documented in OpenAPI)."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Integer(),
            "per_page": ma.fields.Integer(),
            "total": ma.fields.Integer(),
        },
        name=name,
    )
