"""Read an exchange workbook (docs/import.md): an xlsx (calamine) or one csv, its sheets
matched to the layout by name or alias, its headers to the layout's columns.

Nothing here knows the database: a sheet comes out as its layout, the header mapping and an
iterator of ``(row number as Excel shows it, {column: raw cell})`` over its non-empty rows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook

from app.exchange import layout as L

CSV_ENCODING = "utf-8-sig"  # Excel's "CSV UTF-8" starts with a BOM
_SPACES = re.compile(r"\s+")
_PARENS = str.maketrans({"（": "(", "）": ")"})
_UNIT_TAIL = re.compile(r"^(?P<name>.+?)\((?P<unit>[^()]*)\)$")


class ReadError(ValueError):
    """The file cannot be read as the layout at all (not a row's problem)."""


def normalise(header) -> str:
    return _SPACES.sub("", str(header)).translate(_PARENS) if header is not None else ""


@dataclass
class Mapping:
    """A sheet's header row mapped onto its layout."""

    columns: dict[int, L.Column] = field(default_factory=dict)  # position -> column (export-only excluded)
    ignored: list[str] = field(default_factory=list)  # unknown headers, once each
    duplicates: list[str] = field(default_factory=list)  # a second header naming a column already mapped
    missing_required: list[str] = field(default_factory=list)  # the headers of required columns absent


def _names(sheet: L.Sheet) -> dict[str, L.Column]:
    return {normalise(name): column for column in sheet.columns for name in (column.header, *column.aliases)}


def map_headers(sheet: L.Sheet, headers: list) -> Mapping:
    """Headers (the first row) → columns: the header or an alias, spaces and full-width brackets aside,
    a trailing ``(unit)`` accepted when it is the column's unit."""
    names, found, mapping = _names(sheet), set(), Mapping()
    for position, raw in enumerate(headers):
        text = normalise(raw)
        if not text:
            continue
        column = names.get(text)
        if column is None and (tail := _UNIT_TAIL.match(text)):
            candidate = names.get(tail["name"])
            if candidate is not None and normalise(candidate.unit) == tail["unit"]:
                column = candidate
        if column is None:
            if str(raw).strip() not in mapping.ignored:
                mapping.ignored.append(str(raw).strip())
            continue
        if column.header in found:
            mapping.duplicates.append(str(raw).strip())
            continue
        found.add(column.header)
        if not column.export_only:
            mapping.columns[position] = column
    mapping.missing_required = [c.header for c in sheet.columns if c.required and c.header not in found]
    return mapping


def sheet_for(name: str) -> L.Sheet | None:
    """The layout sheet a worksheet (or csv file) name stands for: its name or one of its aliases."""
    wanted = normalise(name)
    for sheet in L.SHEETS:
        if wanted in {normalise(n) for n in (sheet.name, *sheet.aliases)}:
            return sheet
    return None


@dataclass
class SheetReader:
    sheet: L.Sheet
    source: str  # the worksheet's name as the file spells it
    mapping: Mapping
    _rows: Iterator[tuple]
    size: int | None = None  # the data rows the file says it has (for a progress bar), when it says
    first: int = 2  # the first data row's number as Excel shows it (the header is the row above)

    def rows(self) -> Iterator[tuple[int, dict[L.Column, object]]]:
        """(row number as Excel shows it, {column: raw value}) for every row with a value in a mapped
        column; the header is row 1."""
        columns = self.mapping.columns
        for number, row in enumerate(self._rows, start=self.first):
            values = {}
            for position, column in columns.items():
                value = row[position] if position < len(row) else None
                if isinstance(value, str):
                    value = value.strip() or None
                if value is not None:
                    values[column] = value
            if values:
                yield number, values


@dataclass
class Workbook:
    sheets: list[SheetReader]  # in the layout's order: the basic sheet first
    ignored_sheets: list[str]
    _close: object = None

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _reader(sheet: L.Sheet, source: str, rows: Iterator[tuple], size: int | None = None) -> SheetReader:
    header = next(rows, None)
    if header is None:
        return SheetReader(sheet, source, map_headers(sheet, []), iter(()), 0)
    return SheetReader(sheet, source, map_headers(sheet, list(header)), rows, size)


def _open_xlsx(path: Path) -> Workbook:
    """An xlsx through calamine: a sheet is read into memory at once, fast (about 80 MB and 2 s for
    100,000 residents), and knows its size — what the progress is counted against."""
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as err:  # calamine's errors say what broke, not where the file is
        raise ReadError(f"not a readable xlsx workbook ({type(err).__name__})") from None
    found: dict[str, tuple[L.Sheet, str]] = {}
    ignored = []
    for title in book.sheet_names:
        sheet = sheet_for(title)
        if sheet is None or sheet.name in found:
            ignored.append(title)
        else:
            found[sheet.name] = (sheet, title)
    readers = []
    for sheet in L.SHEETS:
        if sheet.name in found:
            title = found[sheet.name][1]
            try:
                worksheet = book.get_sheet_by_name(title)
            except Exception as err:
                raise ReadError(f"sheet {title!r} cannot be read ({type(err).__name__})") from None
            first_row = worksheet.start[0] if worksheet.height else 0  # the used range may start lower
            reader = _reader(sheet, title, iter(worksheet.iter_rows()), max(worksheet.height - 1, 0))
            reader.first = first_row + 2
            readers.append(reader)
    return Workbook(readers, ignored, book.close)


def _open_csv(path: Path, sheet_name: str | None) -> Workbook:
    name = sheet_name or path.stem
    sheet = sheet_for(name)
    if sheet is None:
        known = ", ".join(s.name for s in L.SHEETS)
        raise ReadError(f"{name!r} is not a sheet of the layout (one of {known}); name the file or use --sheet")
    handle = path.open(encoding=CSV_ENCODING, newline="")
    try:
        size = sum(1 for _ in handle) - 1  # reads it all once: a decoding error is the file's, up front
        handle.seek(0)
    except UnicodeDecodeError:
        handle.close()
        raise ReadError("a csv must be UTF-8 (Excel: save as “CSV UTF-8”)") from None
    rows = (tuple(row) for row in csv.reader(handle))
    return Workbook([_reader(sheet, name, rows, size)], [], handle.close)


def open_workbook(path, sheet_name: str | None = None) -> Workbook:
    """The sheets of an xlsx, or the one sheet of a csv (named by ``sheet_name`` or the file name)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _open_csv(path, sheet_name)
    if suffix in (".xlsx", ".xlsm"):
        if sheet_name:
            book = _open_xlsx(path)
            wanted = sheet_for(sheet_name)
            if wanted is None:
                book.close()
                raise ReadError(f"{sheet_name!r} is not a sheet of the layout")
            book.sheets = [r for r in book.sheets if r.sheet is wanted]
            return book
        return _open_xlsx(path)
    raise ReadError("only xlsx and csv files are accepted")
