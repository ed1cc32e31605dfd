"""Check an exchange workbook against the product's rules and the database, writing nothing.

Sheets are read in the layout's order (the basic sheet first, so later sheets may name residents
whose archives the same file brings), a batch of rows at a time. Per batch: the rows are converted
(app.exchange.validate), then one SELECT finds the archives behind the batch's ID numbers and one
the records already there under the rows' keys — never a query per row. Institutions, teams and
service packages are a district's few hundred rows: read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from app.accounts.models import Staff
from app.archive.models import HealthCheck
from app.common.ids import vault
from app.common.time import now as clock_now
from app.common.time import today as clock_today
from app.contracts.models import Contract, ServicePackage
from app.exchange import layout as L
from app.exchange.reader import SheetReader, Workbook
from app.exchange.records import visit_classification_rules
from app.exchange.results import Report, SheetCounts, reported_value
from app.exchange.validate import Row, check_row, key_of
from app.extensions import db
from app.followups.models import FollowupVisit
from app.orgs.models import Institution, Team, TeamMember
from app.residents.models import Condition, Household, Resident
from app.residents.services import RESIDENT_LEVELS

BATCH = 1000
CURRENT_STATUSES = ("pending", "active")  # uq_contracts_current_resident
# Where a sheet's rows already live: the model, its column for the key's second part, a fixed filter.
_EXISTING = {
    L.CONDITIONS.name: (Condition, Condition.disease, None),
    L.HYPERTENSION.name: (FollowupVisit, FollowupVisit.visit_on, FollowupVisit.hypertension.is_(True)),
    L.DIABETES.name: (FollowupVisit, FollowupVisit.visit_on, FollowupVisit.t2dm.is_(True)),
    L.HEALTH_CHECKS.name: (HealthCheck, HealthCheck.checked_on, None),
    L.CONTRACTS.name: (Contract, Contract.starts_on, None),
}
# The date of a record that cannot be before the resident was born.
_AFTER_BIRTH = ("diagnosed_on", "visit_on", "checked_on", "starts_on")


@dataclass
class _Known:
    """An archive an ID number stands for: in the database (``resident_id``) and/or on the basic sheet."""

    path: str
    birth_on: date
    resident_id: int | None = None


def _package_ids() -> dict[str, int]:
    """Package ids by ``CODE@VERSION``, and by bare ``CODE`` for its newest active version (as the export writes)."""
    rows = db.session.execute(
        select(ServicePackage.id, ServicePackage.code, ServicePackage.version, ServicePackage.status).order_by(
            ServicePackage.version
        )
    )
    found: dict[str, int] = {}
    for pid, code, version, status in rows:
        found[f"{code}@{version}"] = pid
        if status == "active" or code not in found:
            found[code] = pid
    return found


class Checker:
    def __init__(self, roots: list[Institution], *, today: date | None = None, now: datetime | None = None):
        self.roots = roots
        self.today, self.now = today or clock_today(), now or clock_now()
        rows = db.session.execute(select(Institution.id, Institution.code, Institution.path, Institution.level))
        self.institutions = {code: (iid, path, level) for iid, code, path, level in rows}
        teams = db.session.execute(select(Team.id, Team.institution_id, Team.name))
        self.teams = {(iid, name): tid for tid, iid, name in teams}
        self.packages = _package_ids()
        self.on_basic_sheet: dict[str, _Known] = {}  # the valid basic rows' ID numbers
        self.current_in_file: dict[str, int] = {}  # ID number → the row of its current contract
        self.archive_nos: dict[str, int] = {}  # 档案编号 → its row
        members = db.session.execute(
            select(TeamMember.team_id, Staff.name, Staff.id).join(Staff, Staff.id == TeamMember.staff_id)
        )
        self.members = {(team_id, name): sid for team_id, name, sid in members}

    def _inside(self, path: str) -> bool:
        return any(path.startswith(root.path) for root in self.roots)

    def _scope_name(self) -> str:
        return "、".join(root.code for root in self.roots)

    # --- references: institutions, teams, packages (read once) ------------------------------------

    def _institution(self, sheet: L.Sheet, row: Row, attribute: str, *, resident_level: bool = False):
        code = row.values.get(attribute)
        if code is None:
            return None
        column = next(c for c in sheet.columns if c.attribute == attribute)
        found = self.institutions.get(code)
        if found is None:
            row.reject(column, f"no institution with code {code!r}")
        elif not self._inside(found[1]):
            row.reject(column, f"{code} is outside the subtree of {self._scope_name()}")
        elif resident_level and found[2] not in RESIDENT_LEVELS:
            row.reject(column, "residents are registered at a health centre or its clinics")
        else:
            row.refs["institution_id"] = found[0]
            return found
        return None

    def _team(self, sheet: L.Sheet, row: Row, institution, attribute: str = "team.name") -> None:
        """A team of the institution or of one above it (a clinic's residents are served by its centre's),
        the nearest one."""
        name = row.values.get(attribute)
        if name is None or institution is None:
            return
        ids = [int(part) for part in institution[1].strip("/").split("/") if part]
        found = next((self.teams[(iid, name)] for iid in reversed(ids) if (iid, name) in self.teams), None)
        if found is None:
            column = next(c for c in sheet.columns if c.attribute == attribute)
            row.reject(column, f"no team named {name!r} at this institution or above it")
        row.refs["team_id"] = found

    def _references(self, sheet: L.Sheet, row: Row) -> None:
        if sheet is L.BASIC:
            self._team(sheet, row, self._institution(sheet, row, "institution.code", resident_level=True))
        elif sheet is L.CONTRACTS:
            self._team(sheet, row, self._institution(sheet, row, "team.institution.code"))
            named = row.values.get("packages") or ()
            unknown = [p for p in named if p not in self.packages]
            column = next(c for c in sheet.columns if c.attribute == "packages")
            ids = [self.packages[p] for p in named if p in self.packages]
            if unknown:
                row.reject(column, f"no service package {unknown[0]!r}")
            elif len(set(ids)) != len(ids):
                row.reject(column, "a package is listed twice")
            else:
                row.refs["package_ids"] = ids
            doctor = row.values.get("doctor.name")
            if doctor is not None and row.refs.get("team_id") is not None:
                row.refs["doctor_id"] = self.members.get((row.refs["team_id"], doctor))
                if row.refs["doctor_id"] is None:
                    row.reject(
                        next(c for c in sheet.columns if c.attribute == "doctor.name"), "not a member of the team"
                    )
        elif any(c.attribute == "institution.code" for c in sheet.columns):
            self._institution(sheet, row, "institution.code")

    # --- the database: one SELECT per batch -------------------------------------------------------

    def _archives(self, numbers: set[str]) -> dict[str, _Known]:
        """The archives in the database behind these ID numbers (rotation-aware, like id_number_clause)."""
        box = vault()
        by_hash = {h: number for number in numbers for h in box.lookup_hashes(number)}
        if not by_hash:
            return {}
        statement = (
            select(Resident.id, Resident.id_number_hash, Resident.birth_on, Institution.path)
            .join(Institution, Institution.id == Resident.institution_id)
            .where(Resident.id_number_hash.in_(list(by_hash)))
        )
        return {by_hash[h]: _Known(path, birth_on, rid) for rid, h, birth_on, path in db.session.execute(statement)}

    def _existing_keys(self, sheet: L.Sheet, rows: list[Row], archives: dict[str, _Known]) -> set[tuple]:
        model, second, fixed = _EXISTING[sheet.name]
        attribute = next(c.attribute for c in sheet.key if c.type != L.ID_NUMBER)
        ids = {archives[n].resident_id: n for n in archives}
        values = {row.values[attribute] for row in rows if attribute in row.values}
        if not ids or not values:
            return set()
        statement = select(model.resident_id, second).where(model.resident_id.in_(list(ids)), second.in_(values))
        if fixed is not None:
            statement = statement.where(fixed)
        return {(ids[rid], value) for rid, value in db.session.execute(statement)}

    def _archive_numbers(self, rows: list[Row]) -> dict[str, tuple[str | None, str]]:
        """The archive numbers the batch gives that the database has already: number → (its ID-number
        hash, its institution's path)."""
        wanted = {row.values["archive_no"] for row in rows if "archive_no" in row.values}
        if not wanted:
            return {}
        statement = (
            select(Resident.archive_no, Resident.id_number_hash, Institution.path)
            .join(Institution, Institution.id == Resident.institution_id)
            .where(Resident.archive_no.in_(wanted))
        )
        return {archive_no: (hash_, path) for archive_no, hash_, path in db.session.execute(statement)}

    def _household_paths(self, rows: list[Row]) -> dict[str, str]:
        """The households the batch names that exist: code → their institution's path."""
        wanted = {row.values["household.code"] for row in rows if "household.code" in row.values}
        if not wanted:
            return {}
        statement = (
            select(Household.code, Institution.path)
            .join(Institution, Institution.id == Household.institution_id)
            .where(Household.code.in_(wanted))
        )
        return dict(db.session.execute(statement).all())

    def _archive_no(self, sheet: L.Sheet, row: Row, numbered: dict) -> None:
        """An archive number names one archive: not another one's in the database or in the file. A row
        without an ID number is the archive of that number (a newborn's): it must be in the subtree."""
        given, number = row.values.get("archive_no"), row.values.get("id_number")
        if given is None:
            return
        column = next(c for c in sheet.columns if c.attribute == "archive_no")
        mine = set(vault().lookup_hashes(number)) if number is not None else {None}  # any key in rotation
        other = given in numbered and numbered[given][0] not in mine
        if other or (given in numbered and number is None and not self._inside(numbered[given][1])):
            row.reject(column, "the number of another archive")
        elif self.archive_nos.setdefault(given, row.number) != row.number:
            row.reject(column, f"the same 档案编号 as row {self.archive_nos[given]}")

    def _current_contracts(self, archives: dict[str, _Known]) -> dict[str, object]:
        """The start date of the current (pending or active) contract behind each ID number, if any."""
        ids = {k.resident_id: n for n, k in archives.items() if k.resident_id is not None}
        if not ids:
            return {}
        statement = select(Contract.resident_id, Contract.starts_on).where(
            Contract.resident_id.in_(list(ids)), Contract.status.in_(CURRENT_STATUSES)
        )
        return {ids[rid]: starts_on for rid, starts_on in db.session.execute(statement)}

    def _one_current(self, sheet: L.Sheet, row: Row, number: str, current: dict) -> None:
        """A resident has one current contract at a time: in the database and in the file."""
        if row.values.get("status") not in CURRENT_STATUSES:
            return
        column = next(c for c in sheet.columns if c.attribute == "status")
        starts_on = row.values.get("starts_on")
        if number in current and current[number] != starts_on:
            since = f" (from {current[number]})" if current[number] else " (an application)"
            row.reject(column, f"the resident has another current contract{since}")
        elif self.current_in_file.setdefault(number, row.number) != row.number:
            row.reject(column, f"the resident's contract on row {self.current_in_file[number]} is current too")

    def _resident(self, sheet: L.Sheet, row: Row, number: str, archives: dict[str, _Known]) -> None:
        """A record's resident: an archive of the database or of the basic sheet, managed in the subtree."""
        column = sheet.key[0]
        known = self.on_basic_sheet.get(number) or archives.get(number)
        if known is None or not self._inside(known.path):
            # One answer for both: an import must not tell who has an archive elsewhere in the district.
            where = f"in the subtree of {self._scope_name()}"
            row.reject(column, f"no archive with this ID number {where} (in the database or valid on {L.BASIC.name})")
            return
        for attribute in _AFTER_BIRTH:
            if attribute in row.values and row.values[attribute] < known.birth_on:
                row.reject(next(c for c in sheet.columns if c.attribute == attribute), "before the birth date")

    def _batch(self, sheet: L.Sheet, rows: list[Row], seen: dict, counts: SheetCounts, report: Report) -> None:
        id_attribute = "id_number" if sheet is L.BASIC else "resident.id_number"
        numbers = {row.values[id_attribute] for row in rows if id_attribute in row.values}
        archives = self._archives(numbers)
        existing = self._existing_keys(sheet, rows, archives) if sheet is not L.BASIC else set()
        current = self._current_contracts(archives) if sheet is L.CONTRACTS else {}
        numbered = self._archive_numbers(rows) if sheet is L.BASIC else {}
        households = self._household_paths(rows) if sheet is L.BASIC else {}
        for row in rows:
            self._references(sheet, row)
            number = row.values.get(id_attribute)
            if sheet is L.BASIC and number in archives and not self._inside(archives[number].path):
                row.reject(sheet.key[0], f"this archive is managed outside the subtree of {self._scope_name()}")
            if sheet is L.BASIC:
                self._archive_no(sheet, row, numbered)
                code = row.values.get("household.code")
                if code in households and not self._inside(households[code]):
                    row.reject(
                        next(c for c in sheet.columns if c.attribute == "household.code"), "another subtree's household"
                    )
            elif sheet is not L.BASIC and number is not None:
                self._resident(sheet, row, number, archives)
            visit_classification_rules(sheet, row)
            if sheet is L.CONTRACTS and number is not None:
                self._one_current(sheet, row, number, current)
            self._once_in_file(sheet, row, seen)
            self._count(sheet, row, number, archives, existing, counts, report)
        self.write(sheet, [row for row in rows if row.valid], archives, counts, rows[-1].number)

    def write(
        self, sheet: L.Sheet, rows: list[Row], archives: dict[str, _Known], counts: SheetCounts, last: int
    ) -> None:
        """The valid rows of a batch, checked: a check writes nothing (the importer writes them)."""

    def _once_in_file(self, sheet: L.Sheet, row: Row, seen: dict) -> None:
        """A row's key appears once in the file: a second row with it is rejected, naming the first."""
        key = key_of(sheet, row)
        if key is None:
            return
        if key in seen:
            headers = "、".join(c.header for c in sheet.key)
            row.reject(headers, f"the same {headers} as row {seen[key]}")
        else:
            seen[key] = row.number

    def _remember(self, sheet: L.Sheet, row: Row, seen: dict) -> None:
        """A row a resumed import did before: what the file's later rows are checked against (their
        keys, archive numbers and current contracts) is learnt again; nothing is counted or written."""
        if sheet is L.BASIC:
            self._archive_no(sheet, row, {})
        number = row.values.get("resident.id_number")
        if sheet is L.CONTRACTS and number is not None:
            self._one_current(sheet, row, number, {})
        self._once_in_file(sheet, row, seen)

    def _count(self, sheet, row: Row, number, archives, existing, counts: SheetCounts, report: Report) -> None:
        counts.rows += 1
        if not row.valid:
            counts.rejected += 1
            for header, reason in row.errors:
                raw = row.raw.get(header)
                report.rejected.append(
                    {
                        "sheet": sheet.name,
                        "row": row.number,
                        "field": header,
                        "reason": reason,
                        "value": reported_value(sheet, header, raw),
                    }  # fmt: skip
                )
            return
        counts.valid += 1
        if sheet is L.BASIC:
            found = number in archives
            if number is not None:
                path = self.institutions[row.values["institution.code"]][1]
                self.on_basic_sheet[number] = _Known(path, row.values["birth_on"])
        else:
            found = key_of(sheet, row) in existing
        if found:
            counts.existing += 1
        else:
            counts.new += 1

    # --- the file -------------------------------------------------------------------------------

    def _sheet(self, reader: SheetReader, report: Report) -> None:
        sheet = reader.sheet
        counts = self.counts_for(sheet, reader.mapping)
        report.sheets.append(counts)
        self.present = {c.attribute for c in reader.mapping.columns.values()}
        seen: dict[tuple, int] = {}
        batch: list[Row] = []
        after = self.resume_after(sheet)
        for number, cells in reader.rows():
            row = check_row(sheet, number, cells, today=self.today, now=self.now)
            if number <= after:
                self._remember(sheet, row, seen)
                continue
            batch.append(row)
            if len(batch) >= BATCH:
                self._batch(sheet, batch, seen, counts, report)
                batch = []
        if batch:
            self._batch(sheet, batch, seen, counts, report)

    def counts_for(self, sheet: L.Sheet, mapping) -> SheetCounts:
        return SheetCounts(
            sheet.name,
            ignored_columns=mapping.ignored,
            duplicate_columns=mapping.duplicates,
            missing_columns=mapping.missing_required,
        )

    def resume_after(self, sheet: L.Sheet) -> int:
        """The last row of ``sheet`` already done (a resumed import); a check reads every row."""
        return 0

    def check(self, book: Workbook, *, file: str) -> Report:
        report = Report(file=file, institution=self._scope_name(), ignored_sheets=list(book.ignored_sheets))
        self.report = report
        for reader in book.sheets:
            self._sheet(reader, report)
        return report


def check_workbook(book: Workbook, *, roots: list[Institution], file: str) -> Report:
    """The report of ``book`` for an import into ``roots``' subtrees. Only SELECTs; the caller's
    transaction is rolled back after it, so not even a flush of something else can slip in."""
    try:
        return Checker(roots).check(book, file=file)
    finally:
        db.session.rollback()
