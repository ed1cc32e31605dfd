"""Results as an .xlsx workbook (openpyxl), one sheet per view, the same numbers as the JSON.

Sheets: ``Summary`` (the headline numbers and the rule), ``Questions`` (one row per question),
``Options`` (the distribution: one row per option), ``Institutions`` and ``Teams`` (the
breakdowns), ``Free text`` (every free-text answer in scope; the writer's identity only for the
district admin — see ``surveys.results``). Rates are stored as numbers (formatted as percent).
"""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from app.common.spreadsheet import safe_cell

PERCENT = "0.00%"
MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SUMMARY_FIELDS = (
    ("survey_id", "Survey id"),
    ("title", "Title"),
    ("kind", "Kind"),
    ("indicator", "Indicator"),
    ("state", "State"),
    ("institution_id", "Institution id"),
    ("institution_name", "Institution"),
    ("team_id", "Team id"),
    ("team_name", "Team"),
    ("positive_threshold", "Positive threshold"),
    ("invited", "Invited"),
    ("responses", "Responses"),
    ("proxy_responses", "Answered by family"),
    ("response_rate", "Response rate"),
    ("positive", "Positive respondents"),
    ("positive_rate", "Positive rate"),
    ("rule", "Rule"),
)
RATE_FIELDS = {"response_rate", "positive_rate", "share", "positive_threshold"}
GROUP_FIELDS = ("invited", "responses", "response_rate", "positive", "positive_rate")
IDENTITY_FIELDS = ("resident_id", "resident_name", "institution_id", "proxy", "submitted_at")


def _plain(value):
    """A value Excel can hold: no time zone; text as ``safe_cell`` makes it (never a formula)."""
    if getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: written as UTC
    return safe_cell(value)


def _append(sheet, row) -> None:
    sheet.append([_plain(v) for v in row])


def _sheet(book: Workbook, title: str, header: list[str], rows: list[list], rate_columns: set[str] = frozenset()):
    sheet = book.create_sheet(title)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        _append(sheet, row)
    for index, name in enumerate(header, start=1):
        if name in rate_columns:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = PERCENT
    sheet.freeze_panes = "A2"
    return sheet


def workbook(result: dict, texts: list[dict]) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["field", "value"])
    for cell in summary[1]:
        cell.font = Font(bold=True)
    for key, label in SUMMARY_FIELDS:
        _append(summary, [label, result.get(key)])
        if key in RATE_FIELDS:
            summary.cell(row=summary.max_row, column=2).number_format = PERCENT
    summary.column_dimensions["A"].width = 22
    summary.column_dimensions["B"].width = 60

    _sheet(
        book,
        "Questions",
        [
            "position",
            "question_id",
            "question",
            "type",
            "required",
            "scored",
            "answered",
            "positive",
            "positive_rate",
            "mean",
        ],
        [
            [
                q["position"],
                q["question_id"],
                q["text"],
                q["type"],
                q["required"],
                q["scored"],
                q["answered"],
                q["positive"],
                q["positive_rate"],
                q["mean"],
            ]
            for q in result["questions"]
        ],
        {"positive_rate"},
    )
    _sheet(
        book,
        "Options",
        ["position", "question_id", "question", "option_id", "option", "value", "positive", "count", "share"],
        [
            [
                q["position"],
                q["question_id"],
                q["text"],
                o["option_id"],
                o["label"],
                o["value"],
                o["positive"],
                o["count"],
                o["share"],
            ]
            for q in result["questions"]
            for o in q["options"]
        ],
        {"share"},
    )
    _sheet(
        book,
        "Institutions",
        ["institution_id", "institution", *GROUP_FIELDS],
        [[g["institution_id"], g["name"], *(g[f] for f in GROUP_FIELDS)] for g in result["institutions"]],
        {"response_rate", "positive_rate"},
    )
    _sheet(
        book,
        "Teams",
        ["team_id", "team", *GROUP_FIELDS],
        [[g["team_id"], g["name"] or "(no team)", *(g[f] for f in GROUP_FIELDS)] for g in result["teams"]],
        {"response_rate", "positive_rate"},
    )
    positions = {q["question_id"]: (q["position"], q["text"]) for q in result["questions"]}
    identities = result.get("identities_shown", False)
    header = ["position", "question_id", "question", "text", *(IDENTITY_FIELDS if identities else ())]
    _sheet(
        book,
        "Free text",
        header,
        [
            [
                positions[t["question_id"]][0],
                t["question_id"],
                positions[t["question_id"]][1],
                t["text"],
                *((t.get(f) for f in IDENTITY_FIELDS) if identities else ()),
            ]
            for t in texts
        ],
    )
    out = BytesIO()
    book.save(out)
    return out.getvalue()
