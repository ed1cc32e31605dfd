"""``flask check-import``: the importer's validating half, through the CLI; it never writes."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.common.ids import make_id_number
from app.common.time import today
from app.exchange import layout as L
from tests.exchange.test_export import records  # noqa: F401  (the export's fixture, reused)


def _fingerprint(app) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows: equal before and after means nothing was written."""
    from app.extensions import db

    out = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            rows = sorted(repr(tuple(r)) for r in db.session.execute(select(table)))
            out[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def _check(app, *args):
    result = app.test_cli_runner().invoke(args=["check-import", *map(str, args)])
    return result


def _json(app, *args) -> tuple[int, dict]:
    result = _check(app, *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def _counts(report) -> dict[str, tuple]:
    return {s["sheet"]: (s["rows"], s["valid"], s["rejected"], s["new"], s["existing"]) for s in report["sheets"]}


def _number(born: date, seq: int) -> str:
    return make_id_number("371002", born, seq)


def _book(path, sheets: dict[str, list[list]]):
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


# --- a workbook the product's own export wrote -------------------------------------------------------


def test_the_exports_workbook_checks_clean_and_every_archive_exists(app, records, tmp_path):  # noqa: F811
    out = tmp_path / "all.xlsx"
    assert app.test_cli_runner().invoke(args=["export-archives", str(out)]).exit_code == 0
    before = _fingerprint(app)
    code, report = _json(app, out)
    assert code == 0 and report["rejected_rows"] == 0 and report["rejected"] == [], report["rejected"]
    counts = _counts(report)
    assert counts[L.BASIC.name] == (4, 4, 0, 0, 4)
    assert counts[L.CONDITIONS.name] == (2, 2, 0, 0, 2)
    assert counts[L.HYPERTENSION.name] == (1, 1, 0, 0, 1)
    assert counts[L.DIABETES.name] == (1, 1, 0, 0, 1)
    assert counts[L.HEALTH_CHECKS.name] == (1, 1, 0, 0, 1)
    assert counts[L.CONTRACTS.name] == (1, 1, 0, 0, 1)
    assert all(not s["ignored_columns"] and not s["missing_columns"] for s in report["sheets"])
    assert _fingerprint(app) == before


def test_a_subtree_export_checks_clean_in_that_subtree_and_the_text_summary(app, records, tmp_path):  # noqa: F811
    out = tmp_path / "a.xlsx"
    app.test_cli_runner().invoke(args=["export-archives", "--institution", "HC01", str(out)])
    result = _check(app, out, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    assert "居民基本信息: rows 3, valid 3, rejected 0, new 0, existing 3 (would update)" in result.output
    # the district's export checked for A: bob's archive and visit are B's
    whole = tmp_path / "all.xlsx"
    app.test_cli_runner().invoke(args=["export-archives", str(whole)])
    code, report = _json(app, whole, "--institution", "HC01")
    assert code == 1
    bob = {(r["sheet"], r["field"]) for r in report["rejected"]}
    assert bob == {(L.BASIC.name, "管理机构编码"), (L.BASIC.name, "身份证号"), (L.CONDITIONS.name, "身份证号"),
                   (L.DIABETES.name, "身份证号"), (L.DIABETES.name, "随访机构编码")}  # fmt: skip


def test_a_masked_export_cannot_be_imported(app, records, tmp_path):  # noqa: F811
    out = tmp_path / "masked.xlsx"
    app.test_cli_runner().invoke(args=["export-archives", "--masked", str(out)])
    code, report = _json(app, out)
    assert code == 1
    masked = [r for r in report["rejected"] if r["field"] == "身份证号"]
    assert len(masked) == 4 + 2 + 1 + 1 + 1 + 1
    assert all("masked" in r["reason"] and r["value"].endswith("*" * 12) for r in masked)


# --- bad rows of every kind ------------------------------------------------------------------------------

BASIC_HEADERS = [
    "姓名",
    "身份证号码",
    "性别",
    "出生日期",
    "联系电话",
    "血型",
    "状态变更日期",
    "管理机构编码",
    "责任团队",
    "微信号",
]


def _bad_workbook(path, world):
    born = date(1960, 3, 4)
    new = _number(born, 11)  # male
    bad_checksum = new[:17] + ("0" if new[17] != "0" else "1")
    future = (today() + timedelta(days=3)).isoformat()
    basic = [
        BASIC_HEADERS,
        ["王新", new, "男", born, "13900000000", "A型", None, "HC01", "鲸园一队", "wx1"],  # 2 valid, new
        ["错号", bad_checksum, "男", born, None, None, None, "HC01", None, None],  # 3 checksum
        ["遮号", "371002************", "男", born, None, None, None, "HC01", None, None],  # 4 masked
        ["日期", _number(born, 13), "1", "1960-02-30", None, None, future, "HC01", None, None],  # 5 dates
        ["血型", _number(born, 15), "male", born, None, "C型", None, "HC01-01", "鲸园一队", None],  # 6 choice
        [None, _number(born, 17), "男", born, None, None, None, "HC01", None, None],  # 7 missing name
        ["重复", new, "男", born, None, None, None, "HC01", None, None],  # 8 duplicate of row 2
        ["外区", _number(born, 19), "男", born, None, None, None, "HC02", None, None],  # 9 outside
        [None] * len(BASIC_HEADERS),  # 10: empty, skipped
        [
            world.names["alice"],
            world.numbers["alice"],
            "女",
            date(1980, 5, 17),
            None,
            None,
            None,
            "HC01",
            "鲸园一队",
            None,
        ],  # 11 valid, existing  # fmt: skip
    ]
    visit_headers = ["身份证号", "随访日期", "随访方式", "收缩压", "舒张压", "此次随访分类"]
    grandpa = world.numbers["grandpa"]
    visits = [
        visit_headers,
        [grandpa, date(2024, 5, 1), "门诊", 350, 90, None],  # 2 sbp out of range
        [grandpa, date(2024, 5, 2), "门诊", 130, 140, None],  # 3 dbp above sbp
        [grandpa, future, "门诊", 130, 80, None],  # 4 visit in the future
        [grandpa, date(2024, 5, 4), "上门", 130, 80, "控制满意"],  # 5 unknown method
        [_number(born, 21), date(2024, 5, 5), "门诊", 130, 80, None],  # 6 no such archive
        [world.numbers["bob"], date(2024, 5, 6), "电话", None, None, "控制满意"],  # 7 outside the subtree
        [grandpa, date(2024, 5, 7), "2", 128, 78, "1"],  # 8 valid (codes), new
        [grandpa, date(2024, 5, 7), "门诊", 128, 78, None],  # 9 duplicate key of row 8
        [new, date(2024, 5, 8), "门诊", 128, 78, None],  # 10 valid: the archive comes with row 2
        [bad_checksum, date(2024, 5, 8), "门诊", 128, 78, None],  # 11 checksum
    ]
    return _book(path, {L.BASIC.name: basic, L.HYPERTENSION.name: visits, "说明": [["not a layout sheet"]]})


EXPECTED = {
    (L.BASIC.name, 3, "身份证号", "checksum"),
    (L.BASIC.name, 4, "身份证号", "masked"),
    (L.BASIC.name, 5, "出生日期", "not a real date"),
    (L.BASIC.name, 5, "状态变更日期", "in the future"),
    (L.BASIC.name, 6, "血型", "not an allowed value"),
    (L.BASIC.name, 7, "姓名", "required"),
    (L.BASIC.name, 8, "身份证号", "as row 2"),
    (L.BASIC.name, 9, "管理机构编码", "outside the subtree of HC01"),
    (L.HYPERTENSION.name, 2, "收缩压", "above the allowed 300 mmHg"),
    (L.HYPERTENSION.name, 3, "舒张压", "below 收缩压"),
    (L.HYPERTENSION.name, 4, "随访日期", "in the future"),
    (L.HYPERTENSION.name, 5, "随访方式", "not an allowed value"),
    (L.HYPERTENSION.name, 6, "身份证号", "no archive"),
    (L.HYPERTENSION.name, 7, "身份证号", "no archive with this ID number in the subtree of HC01"),
    (L.HYPERTENSION.name, 9, "身份证号、随访日期", "as row 8"),
    (L.HYPERTENSION.name, 11, "身份证号", "checksum"),
}


def test_every_kind_of_bad_row_is_named_with_its_field_and_reason(app, world, tmp_path):
    path = _bad_workbook(tmp_path / "bad.xlsx", world)
    before = _fingerprint(app)
    code, report = _json(app, path, "--institution", "HC01")
    assert code == 1
    found = {(r["sheet"], r["row"], r["field"], r["reason"]) for r in report["rejected"]}
    for sheet, row, header, reason in EXPECTED:
        assert any(f[:3] == (sheet, row, header) and reason in f[3] for f in found), (sheet, row, header, found)
    assert {f[:3] for f in found} == {e[:3] for e in EXPECTED}, sorted(found)
    counts = _counts(report)
    assert counts[L.BASIC.name] == (9, 2, 7, 1, 1)
    assert counts[L.HYPERTENSION.name] == (10, 2, 8, 2, 0)
    basic = next(s for s in report["sheets"] if s["sheet"] == L.BASIC.name)
    assert basic["ignored_columns"] == ["微信号"]
    assert report["ignored_sheets"] == ["说明"]
    assert "371002" in json.dumps(report) and world.numbers["alice"] not in json.dumps(report)  # masked values
    assert _fingerprint(app) == before


def test_the_xlsx_report_lists_the_same_rejections(app, world, tmp_path):
    path, out = _bad_workbook(tmp_path / "bad.xlsx", world), tmp_path / "report.xlsx"
    result = _check(app, path, "--institution", "HC01", "--report", out)
    assert (
        result.exit_code == 1
        and "居民基本信息: rows 9, valid 2, rejected 7, new 1, existing 1 (would update)" in result.output
    )
    assert "ignored columns: 微信号" in result.output
    book = load_workbook(out)
    rows = list(book["拒绝行"].iter_rows(values_only=True))
    assert rows[0] == ("工作表", "行号", "字段", "原因", "值")
    assert {(r[0], r[1], r[2]) for r in rows[1:]} == {e[:3] for e in EXPECTED}
    summary = {r[0]: r[1:6] for r in list(book["汇总"].iter_rows(values_only=True))[1:]}
    assert summary[L.HYPERTENSION.name] == (10, 2, 8, 2, 0)


def test_without_an_institution_the_whole_district_is_the_scope(app, world, tmp_path):
    code, report = _json(app, _bad_workbook(tmp_path / "bad.xlsx", world))
    fields = {(r["sheet"], r["row"]) for r in report["rejected"]}
    assert (L.BASIC.name, 9) not in fields and (L.HYPERTENSION.name, 7) not in fields


# --- a csv of the basic sheet ------------------------------------------------------------------------------


def _csv(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_a_csv_of_the_basic_sheet(app, world, tmp_path):
    born = date(1970, 1, 2)
    rows = [
        ["居民姓名", "身份证号", "性别", "出生年月日", "管理机构编码", "持证残疾人", "备注栏"],
        ["李四", _number(born, 31), "男", "1970-01-02", "HC01", "是"],
        ["李五", _number(born, 33), "男", "1970/1/2", "HC01", "也许"],
        [world.names["bob"], world.numbers["bob"], "男", "1975-01-09", "HC02", "否"],
    ]
    before = _fingerprint(app)
    code, report = _json(app, _csv(tmp_path / "居民基本信息.csv", rows))
    assert code == 1
    assert _counts(report) == {L.BASIC.name: (3, 2, 1, 1, 1)}
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(3, "持证残疾人")]
    assert report["sheets"][0]["ignored_columns"] == ["备注栏"]
    # the sheet named by --sheet (an alias) when the file's name is not a sheet's
    code, report = _json(app, _csv(tmp_path / "export1.csv", rows[:2]), "--sheet", "居民档案")
    assert code == 0 and _counts(report) == {L.BASIC.name: (1, 1, 0, 1, 0)}
    assert _fingerprint(app) == before


def test_a_file_that_is_not_the_layout_is_refused(app, world, tmp_path):
    result = _check(app, _csv(tmp_path / "people.csv", [["a"]]))
    assert result.exit_code == 2 and "not a sheet of the layout" in result.output
    other = tmp_path / "x.txt"
    other.write_text("hello")
    result = _check(app, other)
    assert result.exit_code == 2 and "only xlsx and csv" in result.output
    result = _check(app, other, "--institution", "NOPE")
    assert result.exit_code != 0 and "no institution" in result.output


@pytest.mark.parametrize("batch", [1, 2])
def test_small_batches_give_the_same_report(app, world, tmp_path, monkeypatch, batch):
    from app.exchange import check

    path = _bad_workbook(tmp_path / "bad.xlsx", world)
    _, whole = _json(app, path, "--institution", "HC01")
    monkeypatch.setattr(check, "BATCH", batch)
    _, small = _json(app, path, "--institution", "HC01")
    assert small == whole


def test_the_database_is_read_a_batch_at_a_time_not_a_row_at_a_time(app, world, tmp_path):
    from sqlalchemy import event

    from app.extensions import db

    born = date(1966, 6, 6)
    rows = [["姓名", "身份证号", "性别", "出生日期", "管理机构编码"]]
    rows += [[f"居民{i}", _number(born, 101 + 2 * i), "男", born, "HC01"] for i in range(60)]
    rows.append([world.names["alice"], world.numbers["alice"], "女", date(1980, 5, 17), "HC01"])
    path = _book(tmp_path / "many.xlsx", {L.BASIC.name: rows})
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        code, report = _json(app, path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert code == 0 and _counts(report) == {L.BASIC.name: (61, 61, 0, 60, 1)}
    assert len([s for s in statements if "FROM residents" in s]) == 1, statements
    assert len(statements) <= 6, statements
