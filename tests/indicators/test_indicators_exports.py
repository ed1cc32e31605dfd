"""Exports (xlsx in the 附件2 layout, CSV) carry the JSON's numbers; the chart is a PNG."""

from __future__ import annotations

import csv
import io
import struct

import pytest
from openpyxl import load_workbook

from app.common.time import frozen
from app.extensions import db
from app.indicators.catalogue import BY_KEY, KEYS
from tests.indicators import helpers as h
from tests.indicators.helpers import NOON_D, TARGETS_CSV, Y


@pytest.fixture
def pop(app, world):
    from app.indicators.targets import import_csv

    with app.app_context():
        population = h.build(world)
        import_csv(TARGETS_CSV, Y)
        db.session.commit()
    with frozen(NOON_D):
        yield population


def test_xlsx_has_the_json_numbers_in_the_attachment_2_layout(api, world, pop):
    body = api.get("admin", f"/api/v1/indicators?year={Y}").json
    r = api.get("admin", f"/api/v1/indicators.xlsx?year={Y}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert f"indicators-{world.district}-{Y}.xlsx" in r.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["附件2", "明细", "指标定义"]
    sheet = book["附件2"]
    assert sheet["A1"].value.startswith(f"环翠区卫生健康局{Y}年基本公共卫生服务项目任务指标完成情况")
    assert (sheet["A2"].value, sheet["B2"].value) == ("单位名称", "辖区服务人口数")
    assert sheet["C2"].value == "电子健康档案建档率（90%）"
    assert [sheet.cell(row=3, column=c).value for c in (3, 4, 5)] == ["目标数", "完成数", "完成率"]
    # one row per child institution, then the total
    names = [sheet.cell(row=r, column=1).value for r in range(4, sheet.max_row + 1)]
    assert names == ["鲸园社区卫生服务中心", "竹岛社区卫生服务中心", "合计"]
    assert [sheet.cell(row=r, column=2).value for r in (4, 5, 6)] == [10000, 10000, 20000]
    by_line = {(row["scope"], row["institution_id"]): row for row in body["rows"] if row["indicator"]}
    lines = {4: ("child", world.a), 5: ("child", world.b), 6: ("total", world.district)}
    for n, key in enumerate(KEYS):
        column = 3 + 3 * n
        label = sheet.cell(row=2, column=column).value
        assert label.startswith(BY_KEY[key].label), (key, label)
        for row_no, line in lines.items():
            json_row = next(
                r for r in body["rows"] if (r["scope"], r["institution_id"]) == line and r["indicator"] == key
            )
            cells = [sheet.cell(row=row_no, column=column + i).value for i in range(3)]
            assert cells == [json_row["target_count"], json_row["numerator"], json_row["rate"]], (key, line)
    assert sheet.cell(row=4, column=5).number_format == "0.00%"
    assert by_line  # the JSON had rows
    # 明细: every row of the JSON
    detail = list(book["明细"].iter_rows(values_only=True))
    header = detail[0]
    assert len(detail) - 1 == len(body["rows"])
    for values, row in zip(detail[1:], body["rows"]):
        record = dict(zip(header, values))
        for field in (
            "institution_id",
            "indicator",
            "numerator",
            "denominator",
            "rate",
            "target",
            "target_count",
            "met",
            "scope",
        ):
            assert record[field] == row[field], field
    # 指标定义
    definitions = list(book["指标定义"].iter_rows(values_only=True))
    assert [d[0] for d in definitions[1:]] == list(KEYS)


def test_xlsx_for_a_centre_has_its_own_residents_line(api, world, pop):
    r = api.get("a-admin", f"/api/v1/indicators.xlsx?year={Y}&indicator=hypertension_managed,signing_rate")
    sheet = load_workbook(io.BytesIO(r.data))["附件2"]
    names = [sheet.cell(row=n, column=1).value for n in range(4, sheet.max_row + 1)]
    assert names == ["鲸园第一社区卫生服务站", "鲸园社区卫生服务中心（本级）", "合计"]
    assert sheet["C2"].value == "高血压患者管理人数（100%）" and sheet["F2"].value.startswith("签约率（")
    # 合计: 5 managed of the target 5; the station: grandpa and h2, no target of its own
    assert [sheet.cell(row=6, column=c).value for c in (3, 4, 5)] == [5, 5, 1.0]
    assert [sheet.cell(row=4, column=c).value for c in (3, 4, 5)] == [None, 2, None]
    assert sheet.max_column == 2 + 3 * 2


def test_csv(api, world, pop):
    body = api.get("a-admin", f"/api/v1/indicators?year={Y}").json
    r = api.get("a-admin", f"/api/v1/indicators.csv?year={Y}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == len(body["rows"])
    for record, row in zip(rows, body["rows"]):
        assert record["indicator"] == row["indicator"] and record["scope"] == row["scope"]
        assert int(record["numerator"]) == row["numerator"]
        assert record["denominator"] == ("" if row["denominator"] is None else str(row["denominator"]))
        assert record["rate"] == ("" if row["rate"] is None else str(row["rate"]))
        assert record["year"] == str(Y) and record["as_of"] == body["as_of"]
    # a team's CSV
    r = api.get("a-doc", f"/api/v1/indicators.csv?year={Y}&team_id={world.team_a}&indicator=signing_rate")
    [record] = list(csv.DictReader(io.StringIO(r.data.decode("utf-8").lstrip("\ufeff"))))
    assert (record["team_id"], record["numerator"], record["denominator"]) == (str(world.team_a), "3", "7")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_png(api, world, pop):
    r = api.get("admin", f"/api/v1/indicators/chart.png?year={Y}&indicator=hypertension_standardised_management")
    assert r.status_code == 200 and r.mimetype == "image/png"
    width, height = _png_size(r.data)
    assert (width, height) == (750, 420)
    from PIL import Image

    image = Image.open(io.BytesIO(r.data))
    image.verify()
    # the grid of every indicator: bigger
    r = api.get("a-admin", f"/api/v1/indicators/chart.png?year={Y}")
    assert r.status_code == 200
    width, height = _png_size(r.data)
    rows = -(-len(KEYS) // 4)
    assert (width, height) == (4 * 360, int((2.7 * rows + 0.6) * 100))
    # a team's chart
    r = api.get("a-doc", f"/api/v1/indicators/chart.png?year={Y}&team_id={world.team_a}&indicator=signing_rate,ehr")
    assert r.status_code == 200 and _png_size(r.data)[0] == 2 * 360
    assert api.get("admin", "/api/v1/indicators/chart.png?indicator=nope").status_code == 422
