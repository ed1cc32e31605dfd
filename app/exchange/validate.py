"""Cells → typed values, with the reason when a cell or a row breaks the layout's or the product's rules.

``convert`` reads one cell by its column's type (docs/import.md); ``check_row`` converts a row and
applies the rules across its fields that need no database (required, sex and birth date agreeing
with the ID number, the blood pressure pair, dates in order). What needs the database — the
institution, the team, the archive behind an ID number — is app.exchange.check's, a batch at a time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.common.ids import IdNumberError, is_valid_phone, parse_id_number
from app.common.spreadsheet import FORMULA_STARTS
from app.common.time import age_on, local_tz
from app.exchange import layout as L

EARLIEST = date(1880, 1, 1)  # parse_id_number's plausibility bound, for every date
# Dates that may lie ahead: what is planned. Any other date in the future is a typing error.
FUTURE_ALLOWED = {"pregnancy_due_on", "next_visit_on", "starts_on", "ends_on"}
NO_ID_NUMBER_UNDER = 3  # years: a young child's archive may wait for the household registration
_AT_MOST = re.compile(r"at most (\d+)")
_SEPARATORS = re.compile("|".join(re.escape(s) for s in (L.SEPARATOR, *L.SEPARATOR_ALIASES)))
_DATE_TEXT = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_BOOLEANS = {
    text.upper(): value for value in (True, False) for text in (L.BOOLEAN_LABELS[value], *L.BOOLEAN_ALIASES[value])
}
MASK = "*"


class FieldError(ValueError):
    pass


@dataclass
class Row:
    """One row of a sheet: its number as Excel shows it, its typed values by attribute, its errors
    as (header, reason) — a row with any error is rejected."""

    number: int
    values: dict[str, object] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)  # by header, for the report
    refs: dict[str, object] = field(default_factory=dict)  # references resolved to ids (app.exchange.check)

    def reject(self, column_or_header, reason: str) -> None:
        header = column_or_header.header if isinstance(column_or_header, L.Column) else column_or_header
        self.errors.append((header, reason))

    @property
    def valid(self) -> bool:
        return not self.errors


def _text(raw) -> str:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a phone or code typed into a number cell
    if isinstance(raw, datetime | date):
        raw = raw.isoformat()
    text = str(raw).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]  # the quote app.common.spreadsheet.safe_cell put before a formula-like text
    return text


def _number(raw, integer: bool):
    if isinstance(raw, bool):
        raise FieldError("not a number")
    if isinstance(raw, int | float | Decimal):
        value = Decimal(str(raw))
    else:
        try:
            value = Decimal(_text(raw).replace(",", ""))
        except InvalidOperation:
            raise FieldError(f"not a number: {_text(raw)!r}") from None
    if not value.is_finite():
        raise FieldError("not a number")
    if integer:
        if value != value.to_integral_value():
            raise FieldError(f"not a whole number: {_text(raw)!r}")
        return int(value)
    return value


def _range(column: L.Column, value) -> None:
    unit = f" {column.unit}" if column.unit else ""
    if column.minimum is not None and value < Decimal(str(column.minimum)):
        raise FieldError(f"{value}{unit} is below the allowed {column.minimum:g}{unit}")
    if column.maximum is not None and value > Decimal(str(column.maximum)):
        raise FieldError(f"{value}{unit} is above the allowed {column.maximum:g}{unit}")


def _date(column: L.Column, raw, today: date) -> date:
    if isinstance(raw, datetime):
        value = raw.date()
    elif isinstance(raw, date):
        value = raw
    else:
        match = _DATE_TEXT.match(_text(raw).replace("/", "-"))
        if not match:
            raise FieldError(f"not a date (YYYY-MM-DD): {_text(raw)!r}")
        try:
            value = date(*(int(part) for part in match.groups()))
        except ValueError:
            raise FieldError(f"not a real date: {_text(raw)!r}") from None
    if value < EARLIEST:
        raise FieldError(f"{value} is not a plausible date")
    if value > today and column.attribute not in FUTURE_ALLOWED:
        raise FieldError(f"{value} is in the future")
    return value


def _datetime(raw, now: datetime) -> datetime:
    if isinstance(raw, datetime):  # a date-time cell carries no offset: the district's local time
        value = raw.replace(tzinfo=local_tz()) if raw.tzinfo is None else raw
    else:
        try:
            value = datetime.fromisoformat(_text(raw))
        except ValueError:
            raise FieldError(f"not an ISO 8601 date and time: {_text(raw)!r}") from None
        if value.tzinfo is None:
            raise FieldError("the offset is missing (2024-03-01T09:30:00+08:00)")
    if value.year < EARLIEST.year:
        raise FieldError(f"{value.date()} is not a plausible date")
    if value > now:
        raise FieldError(f"{value.isoformat()} is in the future")
    return value


def _choice(column: L.Column, text: str) -> str:
    wanted = text.upper()
    for choice in column.choices:
        if wanted in {n.upper() for n in (choice.label, choice.value, *choice.aliases)}:
            return choice.value
    allowed = "、".join(c.label for c in column.choices)
    raise FieldError(f"{text!r} is not an allowed value (allowed: {allowed})")


def _items(column: L.Column, raw) -> list[str]:
    items = [item.strip() for item in _SEPARATORS.split(_text(raw))]
    items = [item for item in items if item]
    if (limit := _AT_MOST.search(column.note)) and len(items) > int(limit[1]):
        raise FieldError(f"{len(items)} items, at most {limit[1]} allowed")
    return items


def convert(column: L.Column, raw, *, today: date, now: datetime):
    """The typed value of a non-empty cell, or FieldError with the reason."""
    kind = column.type
    if kind == L.ID_NUMBER:
        text = _text(raw).upper()
        if MASK in text:
            raise FieldError("a masked ID number (an export for someone who may not see it) cannot be imported")
        try:
            return parse_id_number(text).value
        except IdNumberError as err:
            raise FieldError(f"not a valid ID number: {err}") from None
    if kind in (L.INTEGER, L.DECIMAL):
        value = _number(raw, kind == L.INTEGER)
        _range(column, value)
        if column.unit == "元" and value.as_tuple().exponent < -2:  # money is stored to the fen
            raise FieldError(f"{value} has more than 2 decimal places")
        return value
    if kind == L.DATE:
        return _date(column, raw, today)
    if kind == L.DATETIME:
        return _datetime(raw, now)
    if kind == L.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = _text(raw)
        if text.upper() not in _BOOLEANS:
            raise FieldError(f"{text!r} is not {L.BOOLEAN_LABELS[True]} or {L.BOOLEAN_LABELS[False]}")
        return _BOOLEANS[text.upper()]
    if kind == L.CHOICE:
        return _choice(column, _text(raw))
    if kind == L.CHOICES:
        return [_choice(column, item) for item in _items(column, raw)]
    if kind == L.LIST:
        items = _items(column, raw)
        if column.max_length and (long := [i for i in items if len(i) > column.max_length]):
            raise FieldError(f"{long[0][:20]!r}… is longer than {column.max_length} characters")
        return items
    if kind == L.JSON:
        try:
            value = json.loads(_text(raw))
        except ValueError:
            raise FieldError("not valid JSON") from None
        wanted = list if column.note.startswith("a JSON list") else dict if "JSON object" in column.note else None
        if wanted is not None and not isinstance(value, wanted):
            raise FieldError(f"must be a JSON {'list' if wanted is list else 'object'}")
        return value
    text = _text(raw)
    if column.max_length and len(text) > column.max_length:
        raise FieldError(f"{len(text)} characters, at most {column.max_length}")
    return text


def _column(sheet: L.Sheet, attribute: str) -> L.Column:
    return next(c for c in sheet.columns if c.attribute == attribute)


def _basic_rules(sheet: L.Sheet, row: Row, today: date) -> None:
    values = row.values
    number = values.get("id_number")
    if number is not None:
        parsed = parse_id_number(number)
        if "sex" in values and values["sex"] != parsed.sex:
            row.reject(_column(sheet, "sex"), "does not agree with the ID number")
        if "birth_on" in values and values["birth_on"] != parsed.birth_on:
            row.reject(_column(sheet, "birth_on"), "does not agree with the ID number")
    elif (
        _column(sheet, "id_number").header not in row.raw
        and "birth_on" in values
        and age_on(values["birth_on"], today) >= NO_ID_NUMBER_UNDER
    ):
        row.reject(_column(sheet, "id_number"), f"required (only a child under {NO_ID_NUMBER_UNDER} may have none)")
    if (phone := values.get("phone")) is not None and not is_valid_phone(phone):
        row.reject(_column(sheet, "phone"), "not an 11-digit mobile number")
    changed = values.get("status_changed_on")
    if changed is not None and "birth_on" in values and changed < values["birth_on"]:
        row.reject(_column(sheet, "status_changed_on"), "before the birth date")


def _pair_rules(sheet: L.Sheet, row: Row) -> None:
    """The blood pressure is a pair, the diastolic below the systolic; a contract ends after it starts."""
    values = row.values
    if ("sbp" in values) != ("dbp" in values):
        missing = "dbp" if "sbp" in values else "sbp"
        row.reject(_column(sheet, missing), "the blood pressure needs both 收缩压 and 舒张压")
    elif "sbp" in values and values["dbp"] >= values["sbp"]:
        row.reject(_column(sheet, "dbp"), "must be below 收缩压")
    if "starts_on" in values and "ends_on" in values and values["ends_on"] <= values["starts_on"]:
        row.reject(_column(sheet, "ends_on"), "must be after 签约开始日期")


def check_row(sheet: L.Sheet, number: int, cells: dict[L.Column, object], *, today: date, now: datetime) -> Row:
    """Convert a row's cells and apply the rules that need no database."""
    row = Row(number)
    for column in sheet.columns:
        if column.export_only:
            continue
        raw = cells.get(column)
        if raw is None:
            if column.required:
                row.reject(column, "required")
            continue
        row.raw[column.header] = raw
        try:
            row.values[column.attribute] = convert(column, raw, today=today, now=now)
        except FieldError as err:
            row.reject(column, str(err))
    if sheet is L.BASIC:
        _basic_rules(sheet, row, today)
    _pair_rules(sheet, row)
    return row


def key_of(sheet: L.Sheet, row: Row) -> tuple | None:
    """The row's identity within its sheet (its key columns' values); None when one is empty."""
    key = tuple(row.values.get(c.attribute) for c in sheet.key)
    return None if any(part is None for part in key) else key
