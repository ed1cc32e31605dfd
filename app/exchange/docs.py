"""docs/import.md, rendered from app.exchange.layout (a test keeps the file equal to ``markdown()``)."""

from __future__ import annotations

from app.exchange import layout as L

INTRO = """# Import and export layout (居民档案交换格式)

<!-- Generated from app/exchange/layout.py by app.exchange.docs.markdown(): edit the layout, not this file. -->

One workbook (xlsx; a CSV per sheet is accepted too, UTF-8, named after the sheet) with a sheet per
record kind. `flask --app wsgi export-archives [--institution CODE] FILE` and
`GET /api/v1/exports/archives.xlsx?institution_id=` write it for an institution's subtree; the
importer reads the same layout.

- **Headers**: the first row. A header may be the name in the table or one of its aliases; columns
  in any order; unknown columns are ignored; *export only* columns are written for people to read
  and ignored on import.
- **Keys**: the ID number is the resident's key on every sheet; the columns marked *key* identify a
  row within its sheet.
- **Empty cells** are "not recorded".
- **Lists** are separated by `{sep}` (`{alt}` is accepted too); **booleans** are {yes} / {no}.
- **Allowed values** are written as the label; the stored value and the aliases (form codes such
  as `1`) are accepted too.
- **ID numbers** are in full only in an institution administrator's export (and the CLI's, which runs
  as the system); anyone else's shows the area code and stars, and cannot be imported.

Types: {types}.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _range(column: L.Column) -> str:
    if column.minimum is None and column.maximum is None:
        return ""
    low = "" if column.minimum is None else f"{column.minimum:g}"
    high = "" if column.maximum is None else f"{column.maximum:g}"
    return f"{low}–{high}" if high else f"≥ {low}"


def _allowed(column: L.Column) -> str:
    if column.choices:
        parts = []
        for choice in column.choices:
            extra = ", ".join(f"`{a}`" for a in (choice.value, *choice.aliases) if a != choice.label)
            parts.append(f"{choice.label} ({extra})" if extra else choice.label)
        return "; ".join(parts)
    if column.max_length:
        return f"≤ {column.max_length} characters"
    return ""


def _flags(column: L.Column) -> str:
    flags = [name for name, on in (("key", column.key), ("required", column.required)) if on]
    if column.export_only:
        flags.append("export only")
    return ", ".join(flags)


def sheet_table(sheet: L.Sheet) -> str:
    lines = [
        f"## {sheet.name}",
        "",
        sheet.description + (f" Sheet aliases: {', '.join(sheet.aliases)}." if sheet.aliases else ""),
        "",
        "| column | aliases | attribute | type | unit | range | allowed values | flags | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for column in sheet.columns:
        cells = [
            f"**{column.header}**",
            ", ".join(column.aliases),
            f"`{sheet.record}.{column.attribute}`",
            column.type,
            column.unit or "",
            _range(column),
            _allowed(column),
            _flags(column),
            column.note,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    types = "; ".join(f"`{name}` {text}" for name, text in L.TYPES.items())
    yes, no = L.BOOLEAN_LABELS[True], L.BOOLEAN_LABELS[False]
    intro = INTRO.format(sep=L.SEPARATOR, alt=" ".join(L.SEPARATOR_ALIASES), yes=yes, no=no, types=types)
    return intro + "".join("\n" + sheet_table(sheet) for sheet in L.SHEETS)
