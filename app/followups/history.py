"""The resident's side: a resident's visits, open plans and BP / glucose trend, and the
access-log row of every follow-up read."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, and_, bindparam, case, func, select

from app.archive.view import with_names
from app.audit import services as audit
from app.common.pagination import page_body
from app.common.time import today
from app.extensions import db
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupVisit
from app.followups.plans import managed_diseases, open_plans, present_plan
from app.followups.visits import present_visit
from app.residents.models import Resident

_V = FollowupVisit.__table__


def _visits_page():
    """A resident's visits, newest first, with the institution's and doctor's names and, on every
    row, the total and this year's face-to-face counts per disease as window aggregates."""
    return (
        with_names(_V, (_V.c.visit_on.desc(), _V.c.id.desc()))
        .add_columns(*(c.over().label(f"n_{k}") for k, c in _visit_counts().items()))
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


_TREND_FIELDS = ("visit_on", "method", "sbp", "dbp", "fasting_glucose", "hba1c", "weight_kg", "classification")


def trend(resident_id: int, limit: int) -> list[dict]:
    """BP and glucose over the last ``limit`` visits, oldest first."""
    rows = db.session.execute(
        select(*(getattr(FollowupVisit, name) for name in _TREND_FIELDS))
        .where(FollowupVisit.resident_id == resident_id)
        .order_by(FollowupVisit.visit_on.desc(), FollowupVisit.id.desc())
        .limit(limit)
    ).all()
    return [dict(row._mapping) for row in reversed(rows)]


def _visit_counts() -> dict:
    """Aggregates over one resident's visits: how many, and each disease's face-to-face visits in the
    year bounded by the parameters ``year_start`` and ``year_end`` (:func:`_year`)."""
    in_year = and_(
        FollowupVisit.method.in_(FACE_TO_FACE),
        FollowupVisit.visit_on >= bindparam("year_start", type_=Date),
        FollowupVisit.visit_on <= bindparam("year_end", type_=Date),
    )
    counts = {"total": func.count()}
    for disease in MANAGED_DISEASES:
        counts[disease] = func.count(case((and_(in_year, getattr(FollowupVisit, disease).is_(True)), 1)))
    return counts


def _year(day: date) -> dict:
    return {"year_start": date(day.year, 1, 1), "year_end": date(day.year, 12, 31)}


def _visit_count_row(resident_id: int, day: date):
    """The same aggregates as plain ones, for a page past the end (no row to carry them)."""
    stmt = select(*(c.label(k) for k, c in _visit_counts().items())).where(FollowupVisit.resident_id == resident_id)
    return db.session.execute(stmt, _year(day)).one()._mapping


_PAGE = _visits_page()


def resident_followups(resident, page: int = 1, per_page: int = 20, trend_visits: int = 8) -> dict:
    """Visits (paginated), the open plan(s) and the BP / glucose trend of one resident.

    Two queries for the first page whatever the history (the archive reads it on every open): the
    open plans, and the page of visits carrying the total and this year's face-to-face counts as
    window aggregates; the trend is cut from that page when the page holds it. A later page adds the
    trend's query, and a page past the end, with no row to carry the counts, one counting query.
    """
    day = today()
    plans = [present_plan(p, day) for p in open_plans(resident)]
    params = {"rid": resident.id, "limit": per_page, "offset": (page - 1) * per_page, **_year(day)}
    rows = db.session.connection().execute(_PAGE, params).all()
    if rows:
        total = rows[0].n_total
        face_to_face = {disease: rows[0]._mapping[f"n_{disease}"] for disease in MANAGED_DISEASES}
    elif page == 1:  # no visits at all
        total, face_to_face = 0, dict.fromkeys(MANAGED_DISEASES, 0)
    else:
        row = _visit_count_row(resident.id, day)
        total, face_to_face = row["total"], {disease: row[disease] for disease in MANAGED_DISEASES}
    if page == 1 and (len(rows) >= trend_visits or len(rows) == total):
        points = [{name: getattr(row, name) for name in _TREND_FIELDS} for row in reversed(rows[:trend_visits])]
    else:
        points = trend(resident.id, trend_visits)
    visits = [present_visit(row, row.institution_name, row.doctor) for row in rows]
    return {
        "resident_id": resident.id,
        "managed_diseases": managed_diseases(resident),
        "open_plan": plans[0] if plans else None,
        "open_plans": plans,
        "visits": page_body(visits, page, per_page, total),
        "trend": points,
        "face_to_face_this_year": face_to_face,
    }


def read_resident_followups(actor, resident: Resident, args: dict) -> dict:
    body = resident_followups(resident, args["page"], args["per_page"], args["trend_visits"])
    record_read(actor, resident.id)
    return body


def record_read(actor, resident_id: int) -> None:
    """The access-log row of a follow-up read (family readers named as the archive does)."""
    purpose = "follow_up" if actor.is_staff else None
    audit.record(actor, resident_id, action="read", section="followups", purpose=purpose)
