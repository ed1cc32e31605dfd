"""Write the exchange workbook (app.exchange.layout) for institutions' subtrees.

Rows are read per sheet in id order, a batch at a time (keyset: ``id > last``), each batch one SELECT
with its joins — so memory and round trips follow the batch count, never the resident count — and
appended to an openpyxl write-only workbook. Every exported archive gets one access-log row
(action ``export``), written per batch of the basic sheet with one ``record_many``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased

from app.accounts.models import Staff
from app.archive.models import HealthCheck
from app.audit import services as audit
from app.common.ids import mask_id_number, vault
from app.common.spreadsheet import safe_cell
from app.common.time import local_tz
from app.contracts.models import Contract, ContractPackage, ServicePackage
from app.exchange import layout as L
from app.extensions import db
from app.followups.models import FollowupVisit
from app.orgs.models import Institution, Team
from app.residents.models import Condition, Household, Resident

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH = 2000
DATE_FORMAT = "yyyy-mm-dd"
LOG_SECTION = "archive_export"


@dataclass(frozen=True)
class _Source:
    """How one sheet's rows are read: the record's table, its id column, and the joined columns
    labelled by the layout path they fill (``institution.code`` → ``institution__code``)."""

    build: Callable[[], Select]
    id_column: object


def _label(path: str) -> str:
    return path.replace(".", "__")


def _resident_cols(resident=Resident):
    return (resident.id_number_enc.label(_label("resident.id_number")), resident.name.label(_label("resident.name")))


def _residents() -> Select:
    return (
        select(
            *Resident.__table__.c,
            Resident.id_number_enc.label("id_number"),
            Institution.code.label(_label("institution.code")),
            Institution.name.label(_label("institution.name")),
            Team.name.label(_label("team.name")),
            Household.code.label(_label("household.code")),
            Household.address.label(_label("household.address")),
        )
        .join(Institution, Institution.id == Resident.institution_id)
        .outerjoin(Team, Team.id == Resident.team_id)
        .outerjoin(Household, Household.id == Resident.household_id)
    )


def _conditions() -> Select:
    return select(*Condition.__table__.c, *_resident_cols()).join(Resident, Resident.id == Condition.resident_id)


def _recorded(model, *where) -> Callable[[], Select]:
    """A record with its resident, where it was made and by whom (a visit, a health check)."""

    def build() -> Select:
        place = aliased(Institution)
        return (
            select(
                *model.__table__.c,
                *_resident_cols(),
                place.code.label(_label("institution.code")),
                Staff.name.label(_label("recorded_by.name")),
            )
            .join(Resident, Resident.id == model.resident_id)
            .outerjoin(place, place.id == model.institution_id)
            .outerjoin(Staff, Staff.id == model.recorded_by_id)
            .where(*where)
        )

    return build


def _contracts() -> Select:
    place = aliased(Institution)
    return (
        select(
            *Contract.__table__.c,
            *_resident_cols(),
            place.code.label(_label("team.institution.code")),
            Team.name.label(_label("team.name")),
            Staff.name.label(_label("doctor.name")),
        )
        .join(Resident, Resident.id == Contract.resident_id)
        .join(Team, Team.id == Contract.team_id)
        .join(place, place.id == Team.institution_id)
        .outerjoin(Staff, Staff.id == Contract.doctor_id)
        # Contracts with a period: an application not signed (pending, rejected) is the team's work
        # in progress, not a record to carry to another system.
        .where(Contract.starts_on.is_not(None))
    )


SOURCES = {
    L.BASIC.name: _Source(_residents, Resident.id),
    L.CONDITIONS.name: _Source(_conditions, Condition.id),
    L.HYPERTENSION.name: _Source(_recorded(FollowupVisit, FollowupVisit.hypertension.is_(True)), FollowupVisit.id),
    L.DIABETES.name: _Source(_recorded(FollowupVisit, FollowupVisit.t2dm.is_(True)), FollowupVisit.id),
    L.HEALTH_CHECKS.name: _Source(_recorded(HealthCheck), HealthCheck.id),
    L.CONTRACTS.name: _Source(_contracts, Contract.id),
}
assert set(SOURCES) == set(L.BY_NAME), "every sheet of the layout has a source"


def _subtree(paths: list[str]):
    """Residents managed by an institution under one of ``paths``: the archives being exported."""
    institutions = select(Institution.id).where(or_(*(Institution.path.startswith(p) for p in paths)))
    return Resident.institution_id.in_(institutions)


def _batches(source: _Source, paths: list[str], size: int) -> Iterable[list[dict]]:
    statement = source.build().where(_subtree(paths)).order_by(source.id_column).limit(size)
    last = None
    while True:
        page = statement if last is None else statement.where(source.id_column > last)
        rows = [dict(row._mapping) for row in db.session.execute(page)]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]
        if len(rows) < size:
            return


def _current_versions() -> dict[str, int]:
    statement = select(ServicePackage.code, ServicePackage.version).where(ServicePackage.status == "active")
    return {code: version for code, version in db.session.execute(statement)}


def _add_packages(rows: list[dict], latest: dict[str, int]) -> None:
    """The packages of a batch of contracts, in one SELECT: current versions by code, older ones CODE@VERSION."""
    found: dict[int, list] = {row["id"]: [] for row in rows}
    statement = (
        select(ContractPackage.contract_id, ServicePackage.code, ServicePackage.version, ServicePackage.name)
        .join(ServicePackage, ServicePackage.id == ContractPackage.package_id)
        .where(ContractPackage.contract_id.in_(list(found)))
        .order_by(ContractPackage.id)
    )
    for contract_id, code, version, name in db.session.execute(statement):
        found[contract_id].append((code if latest.get(code) == version else f"{code}@{version}", name))
    for row in rows:
        row["packages"] = [code for code, _ in found[row["id"]]]
        row["package_names"] = [name for _, name in found[row["id"]]]


def _raw(column: L.Column, row: dict):
    flat = _label(column.attribute)
    if flat in row:
        return row[flat]
    head, *keys = column.attribute.split(".")
    value = row.get(head)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


class _Cells:
    """Turns stored values into cells; decides once whether ID numbers are shown in full."""

    def __init__(self, sheet, full_id_numbers: bool):
        self.sheet = sheet
        self.full = full_id_numbers
        self.vault = vault()
        self.zone = local_tz()

    def cell(self, column: L.Column, value):
        if value is None:
            return None
        kind = column.type
        if kind == L.ID_NUMBER:
            number = self.vault.decrypt(value)
            return number if self.full else mask_id_number(number)
        if kind == L.CHOICE:
            return safe_cell(column.label_of(value) or value)
        if kind == L.CHOICES:
            return safe_cell(L.SEPARATOR.join(column.label_of(v) or str(v) for v in value)) if value else None
        if kind == L.LIST:
            return safe_cell(L.SEPARATOR.join(str(v) for v in value)) if value else None
        if kind == L.BOOLEAN:
            return L.BOOLEAN_LABELS[bool(value)]
        if kind == L.JSON:
            return safe_cell(json.dumps(value, ensure_ascii=False)) if value not in ([], {}) else None
        if kind == L.DATE:
            written = WriteOnlyCell(self.sheet, value=value)
            written.number_format = DATE_FORMAT
            return written
        if kind == L.DATETIME:
            return value.astimezone(self.zone).isoformat(timespec="seconds")
        if kind in (L.INTEGER, L.DECIMAL):
            return value
        return safe_cell(str(value))


def export_archives(
    out, *, actor, institutions: list[Institution], full_id_numbers: bool, batch: int | None = None
) -> dict[str, int]:
    """Write the workbook of the archives managed in ``institutions``' subtrees to ``out`` (a path or a
    binary file); the rows per sheet. ``actor`` None is the system (a CLI run). The access-log rows are
    written in the caller's transaction: it commits them with the finished file."""
    paths = [inst.path for inst in institutions]
    book = Workbook(write_only=True)
    counts: dict[str, int] = {}
    latest = _current_versions()
    for sheet_layout in L.SHEETS:
        sheet = book.create_sheet(sheet_layout.name)
        header = []
        for column in sheet_layout.columns:
            cell = WriteOnlyCell(sheet, value=column.header)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        cells = _Cells(sheet, full_id_numbers)
        counts[sheet_layout.name] = 0
        for rows in _batches(SOURCES[sheet_layout.name], paths, batch or BATCH):
            if sheet_layout is L.CONTRACTS:
                _add_packages(rows, latest)
            for row in rows:
                sheet.append([cells.cell(column, _raw(column, row)) for column in sheet_layout.columns])
            if sheet_layout is L.BASIC:
                ids = [row["id"] for row in rows]
                audit.record_many(actor, ids, action="export", section=LOG_SECTION, purpose="export")
            counts[sheet_layout.name] += len(rows)
    book.save(out)
    return counts
