"""GET /residents/{rid}/archive: the one-call view the phone's archive screen and the doctor app read.

The hottest read of the product, so it is built from Core rows (no ORM objects) in a fixed, small
number of statements whatever the archive's size: the resident with the sizes of both lists (one
statement, scoped: out of scope is the same 404 as missing), the conditions, a page of each list
only when it has rows, the three-year comparison for the elderly, the sections other features
contribute (:data:`ARCHIVE_SECTIONS`) and the access-log row. The body comes out in the shape
``schemas.ArchiveOut`` documents, so the route encodes it without a dump pass.
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

from sqlalchemy import bindparam, extract, func, select

from app.access.scope import bound_resident_scope
from app.accounts.models import Staff
from app.archive.models import ChildCheck, HealthCheck, ServiceRecord
from app.archive.schemas import ArchiveOut
from app.archive.services import (
    present_child_check,
    present_condition,
    present_health_check,
    present_service_record,
    read_purpose,
)
from app.audit import services as audit
from app.common.pagination import page_body
from app.common.time import age_on, today
from app.errors import NotFound
from app.extensions import db
from app.orgs.models import Institution
from app.residents.models import Condition, Resident
from app.residents.populations import CHILD_MAX_AGE, ELDERLY_AGE, populations_of
from app.residents.presenters import present_resident

# Sections other features add to the archive without this package importing them: functions
# ``(resident, args) -> (key, value)`` where ``resident`` is the archive's snapshot of the resident
# (its columns and ``conditions``) and ``args`` a dict with "actor", "today", "owner" (the reader is
# the resident), "per_page" and "purpose". Keys the output schema knows: "followups", "contract".
# The value must already be in the schema's shape (it is not dumped). None contributes nothing.
ARCHIVE_SECTIONS: list = []

_H, _S, _K = HealthCheck.__table__, ServiceRecord.__table__, ChildCheck.__table__


def _count(table):
    return select(func.count()).where(table.c.resident_id == Resident.id).scalar_subquery()


_SUBJECTS: dict = {}  # one statement per shape of the caller's scope
_C = Condition.__table__
_CONDITION_FIELDS = ("id", "disease", "diagnosed_on", "active")


def _subject(actor, resident_id: int):
    """The resident's row with the sizes of its two lists and its conditions (one row per condition,
    the resident's columns repeated: one statement), if the actor may see them."""
    key, clause, params = bound_resident_scope(actor)
    if key not in _SUBJECTS:
        _SUBJECTS[key] = (
            select(
                *Resident.__table__.c,
                _count(_H).label("n_health_checks"),
                _count(_S).label("n_service_records"),
                _count(_K).label("n_child_checks"),
                *(_C.c[name].label(f"condition_{name}") for name in _CONDITION_FIELDS),
            )
            .outerjoin(_C, _C.c.resident_id == Resident.id)
            .where(Resident.id == bindparam("rid"), clause)
            .order_by(_C.c.id)
        )
    rows = db.session.connection().execute(_SUBJECTS[key], {"rid": resident_id, **params}).all()
    if not rows:
        raise NotFound("resident not found")
    conditions = [
        SimpleNamespace(**{name: getattr(row, f"condition_{name}") for name in _CONDITION_FIELDS})
        for row in rows
        if row.condition_id is not None
    ]
    row = rows[0]
    resident = {name: row._mapping[name] for name in Resident.__table__.c.keys()}
    return row, SimpleNamespace(**resident, conditions=conditions)


def with_names(table, order):
    """A resident's rows of ``table`` (parameter ``rid``; every one: the FHIR export) with the
    institution's and the recording doctor's names: the health checks, the service records and
    the follow-up visits."""
    return (
        select(*table.c, Institution.name.label("institution_name"), Staff.name.label("doctor"))
        .outerjoin(Institution, Institution.id == table.c.institution_id)
        .outerjoin(Staff, Staff.id == table.c.recorded_by_id)
        .where(table.c.resident_id == bindparam("rid"))
        .order_by(*order)
    )


HEALTH_CHECKS = with_names(_H, (_H.c.checked_on.desc(), _H.c.id.desc()))
SERVICE_RECORDS = with_names(_S, (_S.c.served_on.desc(), _S.c.id.desc()))
CHILD_CHECKS = with_names(_K, (_K.c.checked_on.desc(), _K.c.id.desc()))


def _paged(stmt):
    return stmt.limit(bindparam("limit")).offset(bindparam("offset"))


_HEALTH_CHECK_PAGE, _SERVICE_RECORD_PAGE = _paged(HEALTH_CHECKS), _paged(SERVICE_RECORDS)
_CHILD_CHECK_PAGE = _paged(CHILD_CHECKS)


def rows_of(stmt, resident_id: int, **params):
    return db.session.connection().execute(stmt, {"rid": resident_id, **params}).all()


def _page(stmt, resident_id: int, total: int, page: int, per_page: int, present, *, rows_out=None) -> dict:
    """One page of a list whose size is known: no query at all when the page is empty. ``rows_out``
    (a list) receives the page's rows."""
    offset = (page - 1) * per_page
    rows = rows_of(stmt, resident_id, limit=per_page, offset=offset) if total > offset else []
    if rows_out is not None:
        rows_out.extend(rows)
    return page_body([present(row, row.institution_name, row.doctor) for row in rows], page, per_page, total)


_YEAR = extract("year", _H.c.checked_on)
_RANKED = (
    select(
        _H.c.checked_on,
        _H.c.sbp,
        _H.c.dbp,
        _H.c.weight_kg,
        _H.c.bmi,
        _H.c.fasting_glucose,
        func.row_number().over(partition_by=_YEAR, order_by=(_H.c.checked_on.desc(), _H.c.id.desc())).label("rn"),
    )
    .where(
        _H.c.resident_id == bindparam("rid"),
        _H.c.checked_on >= bindparam("since"),
        _H.c.checked_on <= bindparam("day"),
    )
    .subquery("ranked")
)
_LATEST_PER_YEAR = select(_RANKED).where(_RANKED.c.rn == 1)
_COMPARED = ("sbp", "dbp", "weight_kg", "bmi", "fasting_glucose")


def three_year_comparison(
    resident_id: int, day, checks: int = 1, newest: list | None = None, page_size: int = 0
) -> list[dict]:
    """The latest check of this year and of each of the two years before (the 3-year comparison of
    the elderly's and the certified disabled's yearly checks).

    One query (none when the resident has no ``checks``): a window function keeps the latest check
    per calendar year. None either when ``newest`` — the first page of the resident's checks (of
    ``page_size``), in the list's order (day, then id, newest first) — holds every check of those
    years: the page is not full (it holds them all, as of its own read), or it reaches one older
    than the three years."""
    first_year = day.year - 2
    since = day.replace(year=first_year, month=1, day=1)
    if newest is not None and (len(newest) < page_size or (newest and newest[-1].checked_on < since)):
        rows: dict = {}
        for r in newest:  # the first of a year in the list's order is the window's row 1
            if since <= r.checked_on <= day:
                rows.setdefault(r.checked_on.year, r)
    else:
        found = rows_of(_LATEST_PER_YEAR, resident_id, since=since, day=day) if checks else []
        rows = {r.checked_on.year: r for r in found}
    out = []
    for year in range(day.year, first_year - 1, -1):
        r = rows.get(year)
        out.append(
            {"year": year, "checked_on": r.checked_on if r else None, **{k: getattr(r, k, None) for k in _COMPARED}}
        )
    return out


def archive_view(actor, resident_id: int, args: dict) -> dict:
    """Everything the archive screen needs, and one access-log row."""
    day = today()
    row, resident = _subject(actor, resident_id)
    owner = actor.resident_id == resident.id and not actor.is_staff
    wanted = set(args.get("sections") or ())
    per_page = args.get("per_page", 10)

    def want(name):
        return not wanted or name in wanted

    body: dict = {key: None for key in ("followups", "contract") if want(key)}
    if want("basic_info"):
        body["basic_info"] = present_resident(resident, owner=owner)
    if want("populations"):
        body["populations"] = populations_of(resident, day)
    if want("conditions"):
        body["conditions"] = [present_condition(c) for c in resident.conditions]
    if want("health_checks"):
        page, shown = args.get("health_checks_page", 1), []
        section = _page(
            _HEALTH_CHECK_PAGE, resident.id, row.n_health_checks, page, per_page, present_health_check, rows_out=shown
        )
        # the yearly check's programmes (docs/domain.md §3): the elderly and the certified disabled
        compared = age_on(resident.birth_on, day) >= ELDERLY_AGE or resident.disabled_certified
        section["comparison"] = (
            three_year_comparison(resident.id, day, row.n_health_checks, shown if page == 1 else None, per_page)
            if compared
            else None
        )
        body["health_checks"] = section
    if want("child_checks"):  # a child's checks (0–6 years), or the checks of who was one
        child = age_on(resident.birth_on, day) <= CHILD_MAX_AGE or row.n_child_checks
        body["child_checks"] = (
            _page(
                _CHILD_CHECK_PAGE,
                resident.id,
                row.n_child_checks,
                1,
                per_page,
                partial(present_child_check, child=resident),
            )
            if child
            else None
        )
    if want("service_records"):
        body["service_records"] = _page(
            _SERVICE_RECORD_PAGE,
            resident.id,
            row.n_service_records,
            args.get("service_records_page", 1),
            per_page,
            present_service_record,
        )
    purpose = read_purpose(actor, resident.id, args.get("purpose"))
    hook_args = {"actor": actor, "today": day, "owner": owner, "per_page": per_page, "purpose": purpose}
    for contribute in ARCHIVE_SECTIONS:
        found = contribute(resident, hook_args)
        if found is not None and want(found[0]):
            body[found[0]] = found[1]
    section_name = "archive" if not wanted else ("archive:" + ",".join(sorted(wanted)))[:40]
    audit.record(actor, resident.id, action="read", section=section_name, purpose=purpose)
    return {key: body[key] for key in _SECTION_ORDER if key in body}


_SECTION_ORDER = tuple(ArchiveOut._declared_fields)  # the documented order
