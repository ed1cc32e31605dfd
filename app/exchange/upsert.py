"""Write a batch of checked rows: create what is new, update what changed, leave the rest alone.

Per batch and sheet: one SELECT of the records already there under the rows' keys, the new ones in
one multi-row INSERT (ids returned in the rows' order), the changed ones in one UPDATE by primary key
— never a statement per row. ``write`` returns what happened to each record as
``{"created": [...], "updated": [...], "unchanged": n}`` with ``(record id, resident id)`` pairs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text, update

from app.archive.models import HealthCheck
from app.common.ids import vault
from app.common.time import now, today
from app.contracts.models import Contract
from app.exchange import layout as L
from app.exchange import records as R
from app.exchange.validate import Row
from app.extensions import db
from app.followups.models import MANAGED_DISEASES, FollowupVisit
from app.residents.models import Condition, Household, Resident

# The 糖尿病随访 columns the 高血压随访 sheet does not have: a combined visit's diabetes part.
DIABETES_OWN = {c.attribute for c in L.DIABETES.columns} - {c.attribute for c in L.HYPERTENSION.columns}
_NEVER_COMPARED = {"id", "created_at", "updated_at", "applied_at"}


@dataclass
class Outcome:
    created: list[tuple[int, int]] = field(default_factory=list)  # (record id, resident id)
    updated: list[tuple[int, int]] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Batch:
    """What a writer needs besides the rows: the sheet's mapped attributes, the residents behind the
    rows' ID numbers and their institutions, who imports."""

    sheet: L.Sheet
    present: set[str]
    resident_of: dict[str, tuple[int, int]]  # ID number → (resident id, its institution id)
    actor_id: int | None


def stored_rows(model, *where) -> list[dict]:
    return [dict(row._mapping) for row in db.session.execute(select(*model.__table__.c).where(*where))]


def new_ids(model, n: int) -> list[int] | None:
    """On PostgreSQL, ``n`` ids from the table's sequence in one statement, so that the rows go in as
    one pipelined executemany — a multi-row INSERT … RETURNING of a thousand rows is a new statement
    text psycopg parses again every batch (most of an import's time). SQLite: None (RETURNING)."""
    if n == 0 or db.session.get_bind().dialect.name != "postgresql":
        return None
    statement = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
    return list(db.session.scalars(statement, {"t": model.__tablename__, "n": n}))


def _with_defaults(table, row: dict) -> dict:
    """The row with every column a COPY must be given: the model's Python-side defaults filled in."""
    full = dict(row)
    for column in table.c:
        if column.name not in full and column.default is not None:
            default = column.default
            full[column.name] = default.arg(None) if default.is_callable else default.arg
    return full


def copy_rows(table, rows: list[dict]) -> None:
    """PostgreSQL's COPY of whole rows (ids given): the fastest way in, values bound by the columns'
    own types (JSON, UTC instants) as an INSERT would bind them."""
    dialect = db.session.get_bind().dialect
    full = [_with_defaults(table, row) for row in rows]
    names = list(full[0])
    binders = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in full:
            copy.write_row([bind(row[n]) if bind else row[n] for n, bind in zip(names, binders, strict=True)])


def insert_rows(model, rows: list[dict], ids: list[int] | None = None) -> list[int]:
    """Insert, the new ids in the rows' order (a missing key takes the column's default): on
    PostgreSQL ids first, then one COPY; on SQLite one INSERT … RETURNING per shape of row."""
    if not rows:
        return []
    ids = ids if ids is not None else new_ids(model, len(rows))
    if ids is not None:
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
        copy_rows(model.__table__, rows)
        return ids
    shapes: dict[frozenset, list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        shapes[frozenset(row)].append(position)
    ids = [None] * len(rows)
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    for positions in shapes.values():
        made = db.session.scalars(statement, [rows[p] for p in positions]).all()
        for position, new_id in zip(positions, made, strict=True):
            ids[position] = new_id
    return ids


def _update(model, changes: list[dict]) -> None:
    if changes:
        db.session.execute(update(model), changes)  # ORM bulk UPDATE by primary key


def _diff(record: dict, current: dict) -> dict:
    return {k: v for k, v in R.changed_columns(record, current).items() if k not in _NEVER_COMPARED}


def upsert_rows(model, batch: Batch, rows: list[Row], found: dict, fill, narrow=None) -> Outcome:
    """The common path: ``found`` the stored records by row key, ``fill(record, row)`` the references,
    ``narrow(attrs, current)`` the attributes a row may set on that stored record (all by default)."""
    every = R.attributes(batch.sheet, batch.present)
    outcome, new, new_residents, changes = Outcome(), [], [], []
    for row in rows:
        current = found.get(row.refs["key"])
        attrs = narrow(every, current) if narrow and current is not None else every
        record = R.proposed(batch.sheet, row.values, attrs, current)
        fill(record, row, current)
        if current is None:
            new.append(record | R.derived(batch.sheet, record, attrs))
            new_residents.append(record["resident_id"])
            continue
        # What the file says decides; the computed columns follow a change (a record entered by hand
        # keeps its own when the file agrees with it).
        diff = _diff(record, current)
        if diff:
            diff = _diff(record | R.derived(batch.sheet, record, attrs), current)
            if "updated_at" in current:
                diff["updated_at"] = now()
            changes.append({"id": current["id"], **diff})
            outcome.updated.append((current["id"], current["resident_id"]))
        else:
            outcome.unchanged += 1
    _update(model, changes)
    outcome.created = list(zip(insert_rows(model, new), new_residents, strict=True))
    return outcome


# --- 居民基本信息 ------------------------------------------------------------------------------


def _households(rows: list[Row], present: set[str]) -> dict[str, int]:
    """The households the rows name, the missing ones created (code, address, the first row's institution)."""
    wanted = {}
    for row in rows:
        code = row.values.get("household.code")
        if code is not None and code not in wanted:
            wanted[code] = (row.values.get("household.address"), row.refs["institution_id"])
    if not wanted:
        return {}
    found = dict(db.session.execute(select(Household.code, Household.id).where(Household.code.in_(wanted))).all())
    missing = [{"code": c, "address": a, "institution_id": i} for c, (a, i) in wanted.items() if c not in found]
    found.update(zip([m["code"] for m in missing], insert_rows(Household, missing), strict=True))
    return found


def write_residents(batch: Batch, rows: list[Row]) -> Outcome:
    box = vault()
    ids = {batch.resident_of[n][0] for n in (r.values.get("id_number") for r in rows) if n in batch.resident_of}
    stored = {r["id"]: r for r in stored_rows(Resident, Resident.id.in_(ids))} if ids else {}
    # An archive without an ID number yet (a newborn's) is known by its archive number.
    unnumbered = {r.values["archive_no"] for r in rows if "id_number" not in r.values and "archive_no" in r.values}
    by_archive_no = (
        {
            r["archive_no"]: r
            for r in stored_rows(Resident, Resident.archive_no.in_(unnumbered), Resident.id_number_hash.is_(None))
        }
        if unnumbered
        else {}
    )
    households = _households(rows, batch.present)
    # A resident with a contract in force is served by its team (signing assigned it): 责任团队 on the
    # basic sheet yields to it, or the two sheets would move the resident back and forth.
    signed = (
        dict(db.session.execute(select(Contract.resident_id, Contract.team_id).where(
            Contract.resident_id.in_(stored), Contract.status == "active")).all())
        if stored and "team.name" in batch.present
        else {}
    )  # fmt: skip
    attrs = R.attributes(batch.sheet, batch.present)
    outcome, new, changes, codes = Outcome(), [], [], []
    for row in rows:
        number = row.values.get("id_number")
        if number is None:
            current = by_archive_no.get(row.values.get("archive_no"))
        else:
            current = stored.get(batch.resident_of[number][0]) if number in batch.resident_of else None
        record = R.proposed(batch.sheet, row.values, attrs, current)
        record["institution_id"] = row.refs["institution_id"]
        if "team.name" in batch.present:
            record["team_id"] = (
                signed.get(current["id"]) if current and current["id"] in signed else row.refs.get("team_id")
            )
        if "household.code" in batch.present:
            record["household_id"] = households.get(row.values.get("household.code"))
        if not record.get("archive_no"):  # made when empty, kept once made
            record["archive_no"] = current["archive_no"] if current else uuid.uuid4().hex
        if current is None:
            if number is not None:
                record["id_number_enc"], record["id_number_hash"] = box.encrypt(number), box.lookup_hash(number)
            new.append(record)
            codes.append(None if row.values.get("archive_no") else row.values["institution.code"])
            continue
        diff = _diff(record, current)
        if "status" in diff and "status_changed_on" not in diff and record.get("status_changed_on") is None:
            diff["status_changed_on"] = today()
        if diff:
            changes.append({"id": current["id"], **diff, "updated_at": now()})
            outcome.updated.append((current["id"], current["id"]))
        else:
            outcome.unchanged += 1
    _update(Resident, changes)
    # The archive number of an archive made without one: its institution's code and its id
    # (number_archive) — known before the INSERT where the database hands out ids first.
    given = {r["archive_no"] for r, code in zip(new, codes, strict=True) if not code}
    ids = new_ids(Resident, len(new))
    if ids is not None:
        for record, number in zip(new, _archive_numbers(ids, codes, given), strict=True):
            record["archive_no"] = number or record["archive_no"]
    created = insert_rows(Resident, new, ids)
    if ids is None:
        numbers = _archive_numbers(created, codes, given)
        _update(Resident, [{"id": rid, "archive_no": n} for rid, n in zip(created, numbers, strict=True) if n])
    outcome.created = [(rid, rid) for rid in created]
    return outcome


def _archive_numbers(ids: list[int], codes: list[str | None], given: set[str]) -> list[str | None]:
    """The made archive numbers (None where the row gave one): ``code`` + the id, or — taken already by
    an archive numbered elsewhere (another system's numbers follow the same scheme) — ``code-id``."""
    made = [f"{code}{rid:08d}" if code else None for rid, code in zip(ids, codes, strict=True)]
    wanted = [m for m in made if m]
    taken = (
        set(db.session.scalars(select(Resident.archive_no).where(Resident.archive_no.in_(wanted)))) if wanted else set()
    )
    return [
        (f"{code}-{rid}" if m in taken or m in given else m) if m else None
        for m, rid, code in zip(made, ids, codes, strict=True)
    ]


# --- 慢病登记, 随访, 健康体检 ------------------------------------------------------------------------


def resident_ids_of(batch: Batch, rows: list[Row]) -> dict[int, int]:
    for row in rows:
        row.refs["resident_id"], row.refs["home_id"] = batch.resident_of[row.values["resident.id_number"]]
    return {row.refs["resident_id"]: row.refs["home_id"] for row in rows}


def write_conditions(batch: Batch, rows: list[Row]) -> Outcome:
    ids = resident_ids_of(batch, rows)
    stored = stored_rows(Condition, Condition.resident_id.in_(ids))
    found = {(r["resident_id"], r["disease"]): r for r in stored}

    def fill(record, row, current):
        record["resident_id"] = row.refs["resident_id"]
        if current is None:
            record["recorded_by_id"] = batch.actor_id

    for row in rows:
        row.refs["key"] = (row.refs["resident_id"], row.values["disease"])
    return upsert_rows(Condition, batch, rows, found, fill)


def write_visits(batch: Batch, rows: list[Row]) -> Outcome:
    """A visit's key is (resident, disease, date). A visit of the other disease on the same day is the
    same visit, combined (the export writes a combined visit on both sheets): the row adds its part."""
    ids = resident_ids_of(batch, rows)
    disease = next(d for d in MANAGED_DISEASES if dict(batch.sheet.fixed).get(d))
    other = next(d for d in MANAGED_DISEASES if d != disease)
    dates = {row.values["visit_on"] for row in rows}
    stored = stored_rows(FollowupVisit, FollowupVisit.resident_id.in_(ids), FollowupVisit.visit_on.in_(dates))
    found: dict[tuple, dict] = {}
    for r in sorted(stored, key=lambda r: (not r[disease], r["id"])):  # the disease's own visit first
        if r[disease] or (r[other] and not r[disease]):
            found.setdefault((r["resident_id"], r["visit_on"]), r)

    def fill(record, row, current):
        record["resident_id"] = row.refs["resident_id"]
        if "institution.code" in batch.present or current is None:  # where it was made, else left alone
            record["institution_id"] = row.refs.get("institution_id") or row.refs["home_id"]
        if current is None:
            record["recorded_by_id"] = batch.actor_id

    def narrow(attrs, current):
        # A combined visit is one form: its 高血压随访 row carries the shared part (signs, lifestyle,
        # medication, notes), its 糖尿病随访 row only the diabetes part — or the two rows would
        # overwrite each other's shared values on every import.
        if disease == "t2dm" and current["hypertension"]:
            return [a for a in attrs if a in DIABETES_OWN]
        return attrs

    for row in rows:
        row.refs["key"] = (row.refs["resident_id"], row.values["visit_on"])
    outcome = upsert_rows(FollowupVisit, batch, rows, found, fill, narrow)
    # a visit that gained this disease's part is this sheet's new record, not an edit of another
    merged = {r["id"] for r in found.values() if not r[disease]}
    outcome.created += [pair for pair in outcome.updated if pair[0] in merged]
    outcome.updated = [pair for pair in outcome.updated if pair[0] not in merged]
    return outcome


def write_checks(batch: Batch, rows: list[Row]) -> Outcome:
    ids = resident_ids_of(batch, rows)
    dates = {row.values["checked_on"] for row in rows}
    stored = stored_rows(HealthCheck, HealthCheck.resident_id.in_(ids), HealthCheck.checked_on.in_(dates))
    found = {(r["resident_id"], r["checked_on"]): r for r in stored}

    def fill(record, row, current):
        record["resident_id"] = row.refs["resident_id"]
        if "institution.code" in batch.present or current is None:  # where it was made, else left alone
            record["institution_id"] = row.refs.get("institution_id") or row.refs["home_id"]
        if current is None:
            record["recorded_by_id"] = batch.actor_id

    for row in rows:
        row.refs["key"] = (row.refs["resident_id"], row.values["checked_on"])
    return upsert_rows(HealthCheck, batch, rows, found, fill)
