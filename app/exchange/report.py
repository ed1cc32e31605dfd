"""The report of a check or an import as a workbook: every rejected row's sheet, row, field and reason,
then the counts per sheet (what a check found, what an import did)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from openpyxl import Workbook

from app.common.spreadsheet import safe_cell
from app.exchange.importer import rejections_of
from app.exchange.models import Import
from app.exchange.results import Report

REPORT_SHEET, SUMMARY_SHEET = "拒绝行", "汇总"
REPORT_HEADERS = ("工作表", "行号", "字段", "原因", "值")
SUMMARY_HEADERS = ("工作表", "行数", "有效", "拒绝", "新增", "已存在", "忽略的列", "已创建", "已更新", "未变")
_COUNTED = ("rows", "valid", "rejected", "new", "existing")
_DONE = ("created", "updated", "unchanged")


def write_report(rejected: Iterable[dict], sheets: Iterable[dict], out) -> None:
    book = Workbook(write_only=True)
    page = book.create_sheet(REPORT_SHEET)
    page.append(REPORT_HEADERS)
    for item in rejected:
        page.append([safe_cell(item[k]) for k in ("sheet", "row", "field", "reason", "value")])
    summary = book.create_sheet(SUMMARY_SHEET)
    summary.append(SUMMARY_HEADERS)
    for s in sheets:
        ignored = safe_cell("；".join(s.get("ignored_columns") or ())) or None
        summary.append([s["sheet"], *(s.get(k, 0) for k in _COUNTED), ignored, *(s.get(k, 0) for k in _DONE)])
    book.save(out)


def write_check_report(report: Report, out) -> None:
    write_report(report.rejected, [asdict(s) for s in report.sheets], out)


def write_import_report(job: Import, out) -> None:
    write_report(rejections_of(job), [{"sheet": name, **counts} for name, counts in (job.sheets or {}).items()], out)
