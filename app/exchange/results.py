"""What a check or an import found, per sheet and per rejected row (app.exchange.check fills them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from app.common.ids import mask_id_number
from app.exchange import layout as L


@dataclass
class SheetCounts:
    sheet: str
    rows: int = 0
    valid: int = 0
    rejected: int = 0
    new: int = 0
    existing: int = 0  # valid rows whose record is in the database already: the import would update it
    created: int = 0  # what an import did (a check leaves them 0)
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    duplicate_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


@dataclass
class Report:
    file: str
    institution: str | None
    sheets: list[SheetCounts] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {sheet, row, field, reason, value}

    @property
    def rejected_rows(self) -> int:
        return sum(s.rejected for s in self.sheets)

    def as_dict(self) -> dict:
        body = asdict(self)
        body["rejected_rows"] = self.rejected_rows
        return body


def reported_value(sheet: L.Sheet, header: str, raw):
    column = next((c for c in sheet.columns if c.header == header), None)
    if raw is None:
        return None
    if column is not None and column.type == L.ID_NUMBER:
        return mask_id_number(str(raw))  # the report may be passed around; the row number finds it
    return raw if isinstance(raw, int | float | str) else str(raw)
