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

## Importing

```sh
flask --app wsgi check-import FILE [--institution CODE] [--report report.xlsx]   # what it would do; writes nothing
flask --app wsgi import FILE [--institution CODE] [--dry-run] [--report report.xlsx]
```

or `POST /api/v1/imports` (an institution admin; multipart `file`, `dry_run`, `institution_id`,
`sheet` for a csv) → 202 `{{id, status: "queued"}}`; a worker runs it — the scheduler's `imports`
job, or `flask --app wsgi import-worker` beside it — and `GET /api/v1/imports/{{id}}` shows
`status` (queued, running, done, failed), `progress` and the counts; `GET /api/v1/imports/{{id}}/report.xlsx`
every rejected row. Uploads are xlsx or UTF-8 csv, at most `IMPORT_MAX_BYTES` (64 MiB).

- **Scope**: every archive must be managed inside the importing institution's subtree (the CLI's
  `--institution`, default the district); a row about anyone else's is rejected.
- **Validation**: every row and field by the product's own rules — the ID-number checksum, sex and
  birth date agreeing with it, dates (none in the future but planned ones, none before the birth),
  ranges and units, allowed values, institutions, teams and doctors that exist, one current contract
  per resident, duplicates within the file and archive numbers against the database. A rejected row
  writes nothing; the report names its sheet, row, column and reason (ID numbers masked).
- **Idempotent**: the ID number is the resident's key, (resident, disease, visit date) a visit's,
  the *key* columns every other record's; a row without an ID number (a newborn's archive) is
  matched by its 档案编号, and without either it is a new archive. A row equal to its record leaves it alone (`unchanged`);
  a changed row updates it (`updated`); a column the file carries but a row leaves empty clears the
  value; a column the file does not carry is left as it is. The same file twice: all `unchanged`.
  A visit on 高血压随访 and 糖尿病随访 with the same date is one combined visit: its 高血压随访 row
  gives the shared part of the form (signs, lifestyle, medication, notes), its 糖尿病随访 row the
  diabetes part (足背动脉搏动, 主食, 糖化血红蛋白, 低血糖反应, 胰岛素, its 此次随访分类).
- **Computed as by hand**: a visit's classification (when 此次随访分类 is empty), alerts and referral
  flags, BMIs, archive numbers; a new contract's fee from its packages (when 签约费用 is empty) and
  its entitlements (an item per package item), delivered (履约) by the imported face-to-face visits
  and health checks of the contract's period; the resident's team from the contract in force (it
  wins over 责任团队); the follow-up plans from the newest
  face-to-face visit. Populations and indicators are derived from the records.
- **Marked**: each created or updated record is listed in `import_records` with the import's id,
  and each archive touched gets an access-log row (section `import:<id>`, action `create` or
  `update`, the requesting admin or the system as the actor).
- **Batches**: a thousand rows at a time, each in one transaction with the import's counts and
  cursor — a failure part-way keeps every finished batch; `flask --app wsgi import-resume ID` (or a
  worker, for a running import whose heartbeat stopped for `IMPORT_STALE_MINUTES`) goes on after it.
  One import runs at a time (institutions' subtrees overlap); the others wait in the queue.
- **Dry run**: each batch is written and rolled back — the counts and the report are the import's,
  nothing stays.
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
