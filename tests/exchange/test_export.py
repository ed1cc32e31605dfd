"""The exchange workbook: its layout, the published doc, and the export through the CLI and the HTTP API."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.exchange import layout as L

URL = "/api/v1/exports/archives.xlsx"
DOC = Path(__file__).resolve().parents[2] / "docs" / "import.md"


def test_the_doc_is_the_rendered_layout():
    from app.exchange.docs import markdown

    assert DOC.read_text(encoding="utf-8") == markdown(), (
        'docs/import.md is generated: python -c "from app.exchange.docs import markdown; '
        "open('docs/import.md', 'w').write(markdown())\""
    )


def test_the_layout_names_real_attributes_and_unambiguous_headers(app):
    from app.extensions import db

    tables = db.metadata.tables
    links = {"resident", "institution", "team", "household", "recorded_by", "doctor"}
    virtual = {"id_number", "packages", "package_names"}
    for sheet in L.SHEETS:
        names = [n for c in sheet.columns for n in (c.header, *c.aliases)]
        assert len(names) == len(set(names)), (sheet.name, sorted(n for n in names if names.count(n) > 1))
        assert any(c.type == L.ID_NUMBER and c.key for c in sheet.columns), sheet.name
        for column in sheet.columns:
            assert column.type in L.TYPES, column
            assert (column.type in (L.CHOICE, L.CHOICES)) == bool(column.choices), column
            head = column.attribute.split(".")[0]
            assert head in tables[sheet.record].c or head in links | virtual, (sheet.name, column.attribute)
            labels = [c.label for c in column.choices]
            assert len(labels) == len(set(labels)), column


@pytest.fixture
def records(app, world):
    """Beyond the world's archives: a visit, a health check and a contract for A's grandpa, a visit for B's bob."""
    from app.archive.models import HealthCheck
    from app.common.time import at_local
    from app.contracts.models import Contract, ContractPackage, ServicePackage
    from app.extensions import db
    from app.followups.models import FollowupVisit

    with app.app_context():
        grandpa, bob = world.ids["grandpa"], world.ids["bob"]
        db.session.add_all(
            [
                FollowupVisit(
                    resident_id=grandpa,
                    visit_on=date(2024, 3, 5),
                    method="clinic",
                    hypertension=True,
                    hypertension_classification="uncontrolled",
                    classification="uncontrolled",
                    sbp=152,
                    dbp=94,
                    symptoms=["headache_dizziness"],
                    lifestyle={"now": {"cigarettes_per_day": 5, "salt_intake": "heavy"}},
                    institution_id=world.ids["a"],
                ),
                FollowupVisit(
                    resident_id=bob,
                    visit_on=date(2024, 3, 6),
                    method="phone",
                    t2dm=True,
                    fasting_glucose=6.1,
                    t2dm_classification="controlled",
                    classification="controlled",
                    institution_id=world.ids["b"],
                ),
                HealthCheck(
                    resident_id=grandpa,
                    checked_on=date(2024, 4, 1),
                    institution_id=world.ids["a"],
                    sbp=140,
                    dbp=85,
                    labs={"hemoglobin": 130.0},
                ),
            ]
        )
        package = ServicePackage(
            code="BASIC", name="基础包", kind="basic", valid_from=date(2024, 1, 1), owner_institution_id=world.ids["a"]
        )
        db.session.add(package)
        db.session.flush()
        contract = Contract(
            resident_id=grandpa,
            team_id=world.ids["team_a"],
            status="active",
            channel="clinic",
            applicant_kind="staff",
            applicant_id=1,
            consent_at=at_local(date(2024, 1, 2), 9),
            consent_channel="clinic",
            signed_at=at_local(date(2024, 1, 2), 9),
            starts_on=date(2024, 1, 2),
            ends_on=date(2025, 1, 1),
            fee=Decimal("0"),
        )
        db.session.add(contract)
        db.session.flush()
        db.session.add(ContractPackage(contract_id=contract.id, package_id=package.id, price=Decimal("0")))
        db.session.commit()
    return world


def _rows(book, sheet: L.Sheet) -> list[dict]:
    rows = list(book[sheet.name].iter_rows(values_only=True))
    assert list(rows[0]) == sheet.headers
    return [dict(zip(sheet.headers, row, strict=True)) for row in rows[1:]]


def _check_workbook(data, world, *, residents: set[str], full: bool):
    book = load_workbook(data if isinstance(data, Path) else io.BytesIO(data))
    assert book.sheetnames == [s.name for s in L.SHEETS]
    basic = _rows(book, L.BASIC)
    names = {world.names[k]: k for k in world.names}
    assert {names[r["姓名"]] for r in basic} == residents
    for row in basic:
        number = world.numbers[names[row["姓名"]]]
        assert row["身份证号"] == (number if full else number[:6] + "*" * 12)
    return book


def _export_log(actor_kind: str | None = None) -> list:
    from app.audit.models import AccessLog
    from app.extensions import db

    statement = select(AccessLog.subject_resident_id, AccessLog.actor_kind).where(AccessLog.action == "export")
    return db.session.execute(statement).all()


def _ids(world, *who) -> list[int]:
    return sorted(world.ids[w] for w in who)


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_exports_the_subtree_in_full_and_logs_every_archive(app, records, tmp_path):
    out = tmp_path / "a.xlsx"
    result = app.test_cli_runner().invoke(args=["export-archives", "--institution", "HC01", str(out)])
    assert result.exit_code == 0, result.output
    assert "居民基本信息 3" in result.output
    book = _check_workbook(out, records, residents={"alice", "child", "grandpa"}, full=True)
    conditions = _rows(book, L.CONDITIONS)
    assert [(r["姓名"], r["疾病"], r["确诊日期"].date()) for r in conditions] == [
        ("张建国", "高血压", date(2020, 1, 1))
    ]
    visits = _rows(book, L.HYPERTENSION)
    assert len(visits) == 1 and not _rows(book, L.DIABETES)  # bob's visit is B's
    visit = visits[0]
    assert (visit["随访方式"], visit["收缩压"], visit["此次随访分类"], visit["症状"]) == (
        "门诊",
        152,
        "控制不满意",
        "头痛头晕",
    )
    assert (visit["日吸烟量"], visit["摄盐情况"], visit["随访机构编码"]) == (5, "重", "HC01")
    assert visit["身份证号"] == records.numbers["grandpa"]
    [check] = _rows(book, L.HEALTH_CHECKS)
    assert (check["收缩压"], check["血红蛋白"], check["体检日期"].date()) == (140, 130.0, date(2024, 4, 1))
    [contract] = _rows(book, L.CONTRACTS)
    assert (contract["服务包"], contract["服务包名称"], contract["签约团队"], contract["签约状态"]) == (
        "BASIC",
        "基础包",
        "鲸园一队",
        "已签约",
    )
    assert contract["签约时间"] == "2024-01-02T09:00:00+08:00"
    with app.app_context():
        log = _export_log()
        assert sorted(r.subject_resident_id for r in log) == _ids(records, "alice", "child", "grandpa")
        assert {r.actor_kind for r in log} == {"system"}


def test_cli_without_institution_exports_the_district(app, records, tmp_path):
    out = tmp_path / "all.xlsx"
    result = app.test_cli_runner().invoke(args=["export-archives", str(out), "--masked"])
    assert result.exit_code == 0, result.output
    book = _check_workbook(out, records, residents={"alice", "child", "grandpa", "bob"}, full=False)
    assert len(_rows(book, L.DIABETES)) == 1
    with app.app_context():
        assert len(_export_log()) == 4


def test_cli_small_batches_give_the_same_rows_and_one_log_row_each(app, records, tmp_path, monkeypatch):
    from app.exchange import export

    monkeypatch.setattr(export, "BATCH", 1)
    out = tmp_path / "small.xlsx"
    result = app.test_cli_runner().invoke(args=["export-archives", str(out)])
    assert result.exit_code == 0, result.output
    _check_workbook(out, records, residents={"alice", "child", "grandpa", "bob"}, full=True)
    with app.app_context():
        assert sorted(r.subject_resident_id for r in _export_log()) == _ids(records, "alice", "child", "grandpa", "bob")


def test_cli_unknown_institution_is_an_error(app, world, tmp_path):
    result = app.test_cli_runner().invoke(args=["export-archives", "--institution", "NOPE", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and "no institution" in result.output
    assert not (tmp_path / "x.xlsx").exists()


# --- the HTTP API ------------------------------------------------------------------------------------


def test_institution_admin_gets_the_subtree_in_full(api, records, app):
    r = api.get("a-admin", URL)
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    _check_workbook(r.data, records, residents={"alice", "child", "grandpa"}, full=True)
    with app.app_context():
        log = _export_log()
        assert sorted(r.subject_resident_id for r in log) == _ids(records, "alice", "child", "grandpa")
        assert {r.actor_kind for r in log} == {"staff"}


def test_institution_admin_of_a_child_institution_and_a_sub_subtree(api, records, app):
    r = api.get("a-admin", f"{URL}?institution_id={records.ids['a1']}")
    assert r.status_code == 200
    _check_workbook(r.data, records, residents={"grandpa"}, full=True)


def test_district_admin_sees_masked_numbers(api, records, app):
    r = api.get("admin", URL)
    assert r.status_code == 200
    _check_workbook(r.data, records, residents={"alice", "child", "grandpa", "bob"}, full=False)
    r = api.get("admin", f"{URL}?institution_id={records.ids['b']}")
    assert r.status_code == 200
    _check_workbook(r.data, records, residents={"bob"}, full=False)
    with app.app_context():
        assert len(_export_log()) == 5


@pytest.mark.parametrize(
    ("who", "query", "status"),
    [
        ("a-admin", "b", 404),
        ("b-admin", "a", 404),
        ("a-admin", "missing", 404),
        ("a-doc", None, 403),
        ("b-doc", None, 403),
        ("alice", None, 403),
    ],
)
def test_refused_callers_export_nothing(api, records, app, who, query, status):
    qs = "" if query is None else f"?institution_id={records.ids.get(query, 999999)}"
    r = api.get(who, URL + qs)
    assert r.status_code == status, r.json
    with app.app_context():
        from app.audit.models import AccessLog
        from app.extensions import db

        assert db.session.scalar(select(func.count()).where(AccessLog.action == "export")) == 0


def test_without_a_token_is_401(client, world):
    assert client.get(URL).status_code == 401


def test_the_route_is_documented(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/v1/exports/archives.xlsx"]["get"]
    assert "居民基本信息" in operation["description"]
    assert [p["name"] for p in operation["parameters"]] == ["institution_id"]
