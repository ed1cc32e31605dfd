"""The indicators as files: an .xlsx laid out like the district's 附件2 table (docs/domain.md §7), and a CSV.

Workbook sheets:
- ``附件2``: one row per child institution (then the institution's own residents when it has any,
  then 合计, the subtree total); per indicator three columns 目标数 (the target count from the
  targets table) / 完成数 (the numerator) / 完成率 (the rate, a number formatted as percent);
- ``明细``: every row of the JSON (numerator, denominator, rate, target, met …);
- ``指标定义``: every indicator's definition (numerator, denominator, window, target).
The CSV is the 明细 sheet (UTF-8 with a byte-order mark so Excel reads the Chinese).
Numbers are the JSON's, unchanged; text (names) goes through ``safe_cell`` like every export's.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.common.spreadsheet import safe_cell
from app.indicators.catalogue import BY_KEY, describe

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
PERCENT = "0.00%"
SUB_COLUMNS = ("目标数", "完成数", "完成率")
DETAIL_FIELDS = (
    "year",
    "as_of",
    "institution_id",
    "institution_name",
    "team_id",
    "team_name",
    "scope",
    "indicator",
    "label",
    "numerator",
    "denominator",
    "rate",
    "target",
    "target_count",
    "met",
)
SCOPE_NAMES = {"total": "合计", "direct": "（本级）"}


def _indicators(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["indicator"] for r in rows))


def _line_name(row: dict) -> str:
    if row["scope"] == "total":
        return "合计"
    if row["scope"] == "direct":
        return f"{row['institution_name']}（本级）"
    if row["scope"] == "team":
        return row["team_name"] or f"team {row['team_id']}"
    return row["institution_name"]


def lines(report: dict) -> list[tuple[str, int | None, dict]]:
    """(name, service population, {indicator: row}) per line of the 附件2 sheet: children, own, total."""
    grouped: dict[tuple, dict] = {}
    order: list[tuple] = []
    for row in report["rows"]:
        key = (row["scope"], row["institution_id"], row["team_id"])
        if key not in grouped:
            grouped[key] = {}
            order.append(key)
        grouped[key][row["indicator"]] = row
    populations = report.get("service_populations", {})
    ranked = sorted(order, key=lambda k: {"child": 0, "team": 0, "direct": 1, "total": 2}[k[0]])
    out = []
    for key in ranked:
        by_indicator = grouped[key]
        first = next(iter(by_indicator.values()))
        population = populations.get(key[1]) if key[0] in ("child", "total") else None
        out.append((_line_name(first), population, by_indicator))
    return out


def workbook(report: dict) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "附件2"
    indicators = _indicators(report["rows"])
    width = 2 + 3 * len(indicators)
    sheet.cell(
        row=1,
        column=1,
        value=safe_cell(
            f"{report['institution_name']}{report['year']}年基本公共卫生服务项目"
            f"任务指标完成情况（截至{report['as_of'].isoformat()}）"
        ),
    ).font = Font(bold=True, size=13)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for col, title in ((1, "单位名称"), (2, "辖区服务人口数")):
        cell = sheet.cell(row=2, column=col, value=title)
        sheet.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for n, key in enumerate(indicators):
        col = 3 + 3 * n
        definition = BY_KEY[key]
        target = next(
            (r["target"] for r in report["rows"] if r["indicator"] == key and r["scope"] == "total"), definition.target
        )
        title = definition.label + (f"（{target:.0%}）" if target is not None else "")
        cell = sheet.cell(row=2, column=col, value=title)
        sheet.merge_cells(start_row=2, start_column=col, end_row=2, end_column=col + 2)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for offset, sub in enumerate(SUB_COLUMNS):
            sheet.cell(row=3, column=col + offset, value=sub).font = Font(bold=True)
    row_no = 4
    for name, population, by_indicator in lines(report):
        sheet.cell(row=row_no, column=1, value=safe_cell(name))
        sheet.cell(row=row_no, column=2, value=population)
        for n, key in enumerate(indicators):
            row = by_indicator.get(key)
            if row is None:
                continue
            col = 3 + 3 * n
            sheet.cell(row=row_no, column=col, value=row["target_count"])
            sheet.cell(row=row_no, column=col + 1, value=row["numerator"])
            cell = sheet.cell(row=row_no, column=col + 2, value=row["rate"])
            cell.number_format = PERCENT
        if name == "合计":
            for col in range(1, width + 1):
                sheet.cell(row=row_no, column=col).font = Font(bold=True)
        row_no += 1
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 12
    for col in range(3, width + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 10
    sheet.row_dimensions[2].height = 48
    sheet.freeze_panes = "C4"

    detail = book.create_sheet("明细")
    detail.append(list(DETAIL_FIELDS))
    for cell in detail[1]:
        cell.font = Font(bold=True)
    for row in report["rows"]:
        detail.append(
            [safe_cell(_cell({**row, "year": report["year"], "as_of": report["as_of"]}[f])) for f in DETAIL_FIELDS]
        )
        for field in ("rate", "target"):
            detail.cell(row=detail.max_row, column=DETAIL_FIELDS.index(field) + 1).number_format = PERCENT
    detail.freeze_panes = "A2"

    definitions = book.create_sheet("指标定义")
    columns = ("key", "label", "name", "numerator", "denominator", "window", "target")
    definitions.append(list(columns))
    for cell in definitions[1]:
        cell.font = Font(bold=True)
    for key in indicators:
        described = describe(BY_KEY[key])
        definitions.append([safe_cell(described[c]) for c in columns])
    for letter, size in zip("ABCDEFG", (34, 26, 34, 60, 60, 24, 40), strict=True):
        definitions.column_dimensions[letter].width = size

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def csv_text(report: dict) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DETAIL_FIELDS)
    for row in report["rows"]:
        full = {**row, "year": report["year"], "as_of": report["as_of"]}
        writer.writerow(["" if full[f] is None else safe_cell(_cell(full[f])) for f in DETAIL_FIELDS])
    return out.getvalue()
