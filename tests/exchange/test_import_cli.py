"""``flask import``: a good file, bad rows of every kind, the same file twice, an update, a dry run, the
subtree, a failure part-way and its resume, and what follows an import (plans, entitlements, teams)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.archive.models import HealthCheck
from app.audit.models import AccessLog
from app.common.ids import vault
from app.common.time import today
from app.contracts.models import Contract, ContractItem, ContractPackage, PackageItem, ServicePackage
from app.exchange import check
from app.exchange import layout as L
from app.exchange.importer import rejections_of, run_import
from app.exchange.models import Import, ImportRecord, ImportRejection
from app.extensions import db
from app.followups.models import FollowupPlan, FollowupVisit
from app.residents.models import Condition, Household, Resident
from tests.conftest import empty_database
from tests.exchange.test_check_import import EXPECTED, _bad_workbook, _book, _fingerprint, _number
from tests.factories import build_world

CLINICAL = ("residents", "households", "conditions", "followup_visits", "health_checks", "contracts",
            "contract_packages", "contract_items", "followup_plans")  # fmt: skip
N1_BORN, N2_BORN = date(1958, 4, 2), date(1962, 9, 10)
N1, N2 = _number(N1_BORN, 41), _number(N2_BORN, 42)  # 41: male, 42: female
CONTRACT_HEADERS = "身份证号 签约开始日期 签约结束日期 签约状态 签约机构编码 签约团队 签约医生 服务包 签约渠道 同意时间"
COUNTED = ("rows", "created", "updated", "unchanged", "rejected")


def _sheet(headers: str, *rows) -> list[list]:
    return [headers.split(), *map(list, rows)]


def _import(app, path, *args):
    return app.test_cli_runner().invoke(args=["import", str(path), *map(str, args)])


def _last_import(app):
    with app.app_context():
        job = db.session.scalars(select(Import).order_by(Import.id.desc())).first()
        db.session.expunge(job)
        return job


def _totals(job) -> tuple:
    return tuple(getattr(job, k) for k in COUNTED)


def _sheet_counts(job) -> dict[str, tuple]:
    return {name: tuple(s[k] for k in COUNTED) for name, s in job.sheets.items()}


def _all(query) -> list:
    return sorted(db.session.execute(query).all())


def _resident(number):
    return db.session.scalars(select(Resident).where(Resident.id_number_hash == vault().lookup_hash(number))).first()


def _visit(resident_id, on):
    query = select(FollowupVisit).where(FollowupVisit.resident_id == resident_id, FollowupVisit.visit_on == on)
    return db.session.scalars(query).one()


def _marks(job_id) -> list:
    r = ImportRecord
    return _all(select(r.kind, r.record_id, r.action).where(r.import_id == job_id))


def _tables(app, names) -> dict:
    return {name: value for name, value in _fingerprint(app).items() if name in names}


@pytest.fixture
def package(app, world):
    """A service package of A with two items."""
    with app.app_context():
        pkg = ServicePackage(code="FAM", name="家庭包", kind="basic", valid_from=date(2020, 1, 1),
                             owner_institution_id=world.ids["a"], price=Decimal("120"),
                             public_health_subsidy=Decimal("20"))  # fmt: skip
        pkg.items = [
            PackageItem(position=0, name="年度体检", service_type="health_check", times_per_year=1),
            PackageItem(position=1, name="慢病随访", service_type="chronic_followup", times_per_year=4),
        ]
        db.session.add(pkg)
        db.session.commit()
        return pkg.id


def _good(path, world, *, alice_phone="13812345678", grandpa_sbp=128):
    alice, grandpa, starts = world.numbers["alice"], world.numbers["grandpa"], today() - timedelta(days=30)
    consent, ends = f"{starts.isoformat()}T09:00:00+08:00", starts + timedelta(days=364)
    sheets = {
        L.BASIC.name: _sheet(
            "姓名 身份证号 性别 出生日期 本人电话 管理机构编码 责任团队 户编号 家庭住址",
            ("王新", N1, "男", N1_BORN, "13900000001", "HC01", "鲸园一队", "H-N-1", "环翠区新路1号"),
            ("李梅", N2, "女", N2_BORN, "13900000002", "HC01-01", "鲸园一队", None, None),
            ("张丽", alice, "女", date(1980, 5, 17), alice_phone, "HC01", "鲸园一队", "H-A-1", "环翠区鲸园路8号"),
        ),
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", (N1, "高血压", "2023-06-01"), (N2, "糖尿病", "2022-03-15")),
        L.HYPERTENSION.name: _sheet(
            "身份证号 随访日期 随访方式 收缩压 舒张压 症状",
            (N1, date(2024, 5, 7), "门诊", 150, 95, "头痛头晕"),
            (grandpa, date(2024, 5, 8), "家庭", grandpa_sbp, 78, None),
        ),
        L.DIABETES.name: _sheet("身份证号 随访日期 随访方式 空腹血糖值", (N2, date(2024, 5, 9), "门诊", 6.1)),
        L.HEALTH_CHECKS.name: _sheet(
            "身份证号 体检日期 收缩压 舒张压 身高 体重", (grandpa, date(2024, 4, 1), 140, 85, 170, 65)
        ),
        L.CONTRACTS.name: _sheet(
            CONTRACT_HEADERS, (N1, starts, ends, "已签约", "HC01", "鲸园一队", "王医生", "FAM", "门诊", consent)
        ),
    }
    return _book(path, sheets)


GOOD_COUNTS = {L.BASIC.name: (3, 2, 0, 1, 0), L.CONDITIONS.name: (2, 2, 0, 0, 0), L.HYPERTENSION.name: (2, 2, 0, 0, 0),
               L.DIABETES.name: (1, 1, 0, 0, 0), L.HEALTH_CHECKS.name: (1, 1, 0, 0, 0),
               L.CONTRACTS.name: (1, 1, 0, 0, 0)}  # fmt: skip
BAD_COUNTS = {L.BASIC.name: (9, 1, 1, 0, 7), L.HYPERTENSION.name: (10, 2, 0, 0, 8)}  # _bad_workbook's


# --- a good file, bad rows of every kind --------------------------------------------------------------


def test_a_good_file_is_imported_marked_and_logged(app, world, package, tmp_path):
    result = _import(app, _good(tmp_path / "good.xlsx", world), "--institution", "HC01")
    assert result.exit_code == 0, result.output
    assert "居民基本信息: rows 3, created 2, updated 0, unchanged 1, rejected 0" in result.output
    job = _last_import(app)
    assert (job.status, job.dry_run, job.progress, job.error) == ("done", False, 1.0, None)
    assert _totals(job) == (10, 9, 0, 1, 0) and _sheet_counts(job) == GOOD_COUNTS
    with app.app_context():
        new, li, grandpa = _resident(N1), _resident(N2), world.ids["grandpa"]
        assert (new.name, new.sex, new.birth_on, new.phone) == ("王新", "male", N1_BORN, "13900000001")
        assert (new.institution_id, new.team_id) == (world.ids["a"], world.ids["team_a"])
        assert new.archive_no == f"HC01{new.id:08d}"  # made from the institution's code and the id
        assert db.session.get(Household, new.household_id).code == "H-N-1"
        assert (li.sex, li.institution_id, li.household_id) == ("female", world.ids["a1"], None)
        conditions = db.session.scalars(select(Condition).where(Condition.resident_id.in_([new.id, li.id]))).all()
        assert sorted((c.resident_id, c.disease, c.diagnosed_on) for c in conditions) == [
            (new.id, "hypertension", date(2023, 6, 1)), (li.id, "t2dm", date(2022, 3, 15))]  # fmt: skip
        visit = _visit(new.id, date(2024, 5, 7))
        assert (visit.method, visit.sbp, visit.dbp, visit.symptoms) == ("clinic", 150, 95, ["headache_dizziness"])
        assert (visit.hypertension, visit.t2dm, visit.classification, visit.institution_id) == (
            True, False, "uncontrolled", world.ids["a"])  # fmt: skip
        home = _visit(grandpa, date(2024, 5, 8))
        assert (home.method, home.classification) == ("home", "controlled")
        sugar = _visit(li.id, date(2024, 5, 9))
        assert (sugar.t2dm, sugar.fasting_glucose, sugar.t2dm_classification) == (True, 6.1, "controlled")
        hc = db.session.scalars(select(HealthCheck)).one()
        assert (hc.resident_id, hc.sbp, hc.bmi) == (grandpa, 140, pytest.approx(22.5, abs=0.1))
        contract = db.session.scalars(select(Contract)).one()
        assert (contract.resident_id, contract.status, contract.team_id, contract.doctor_id, contract.fee) == (
            new.id, "active", world.ids["team_a"], world.ids["a_doc"], Decimal("120"))  # fmt: skip
        assert _marks(job.id) == sorted(
            [("residents", new.id, "created"), ("residents", li.id, "created")]
            + [("conditions", c.id, "created") for c in conditions]
            + [("followup_visits", v.id, "created") for v in (visit, home, sugar)]
            + [("health_checks", hc.id, "created"), ("contracts", contract.id, "created")]
        )
        log = _all(select(AccessLog.subject_resident_id, AccessLog.action, AccessLog.section, AccessLog.actor_kind))
        assert {(section, kind) for _, _, section, kind in log} == {(f"import:{job.id}", "system")}
        # 王新: basic, conditions, visits, contract; 李梅: basic, conditions, visits; grandpa: visit, check
        assert [(r, a) for r, a, _, _ in log] == sorted(
            [(new.id, "create")] * 4 + [(li.id, "create")] * 3 + [(grandpa, "create")] * 2
        )
        assert db.session.scalar(select(func.count()).select_from(ImportRejection)) == 0


def test_bad_rows_are_in_the_report_and_wrote_nothing_while_the_valid_ones_were_written(app, world, tmp_path):
    out = tmp_path / "report.xlsx"
    result = _import(app, _bad_workbook(tmp_path / "bad.xlsx", world), "--institution", "HC01", "--report", out)
    assert result.exit_code == 1, result.output
    book = load_workbook(out)
    rows = list(book["拒绝行"].iter_rows(values_only=True))
    assert rows[0] == ("工作表", "行号", "字段", "原因", "值")
    found = {(r[0], r[1], r[2], r[3]) for r in rows[1:]}
    for sheet, row, header, reason in EXPECTED:
        assert any(f[:3] == (sheet, row, header) and reason in f[3] for f in found), (sheet, row, header, found)
    assert {f[:3] for f in found} == {e[:3] for e in EXPECTED}
    assert world.numbers["bob"] not in repr(rows)  # ID numbers masked in the report
    summary = {r[0]: r for r in list(book["汇总"].iter_rows(values_only=True))[1:]}
    assert summary[L.BASIC.name][1:4] == (9, 2, 7) and summary[L.HYPERTENSION.name][1:4] == (10, 2, 8)
    job = _last_import(app)
    assert _sheet_counts(job) == BAD_COUNTS
    born = date(1960, 3, 4)
    with app.app_context():
        # the valid rows: 王新 (new), alice (her 联系电话 is empty in the file: cleared), two visits
        new = _resident(_number(born, 11))
        assert (new.name, new.blood_type) == ("王新", "A")
        alice = db.session.get(Resident, world.ids["alice"])
        assert (alice.phone, alice.team_id) == (None, world.ids["team_a"])
        assert _visit(world.ids["grandpa"], date(2024, 5, 7)).method == "home"
        assert _visit(new.id, date(2024, 5, 8)).classification == "controlled"
        # the rejected ones: no archive, no visit
        assert [seq for seq in (13, 15, 17, 19, 21) if _resident(_number(born, seq)) is not None] == []
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 5
        visits = _all(select(FollowupVisit.resident_id, FollowupVisit.visit_on))
        assert visits == sorted([(world.ids["grandpa"], date(2024, 5, 7)), (new.id, date(2024, 5, 8))])


# --- the same file twice, an update, a dry run, the subtree -------------------------------------------


def test_the_same_file_twice_changes_nothing(app, world, package, tmp_path):
    path = _good(tmp_path / "good.xlsx", world)
    assert _import(app, path, "--institution", "HC01").exit_code == 0
    before = _tables(app, CLINICAL)
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    assert _totals(_last_import(app)) == (10, 0, 0, 10, 0)
    after = _tables(app, CLINICAL)
    assert {t: after[t] for t in CLINICAL if t != "residents"} == {t: before[t] for t in CLINICAL if t != "residents"}
    # Not even updated_at: an unchanged contract does not assign its resident's team again.
    assert after["residents"] == before["residents"], "an all-unchanged import rewrote residents (updated_at)"


def test_an_update_changes_the_stored_values_and_recomputes_the_classification(app, world, package, tmp_path):
    assert _import(app, _good(tmp_path / "good.xlsx", world), "--institution", "HC01").exit_code == 0
    with app.app_context():
        visit = _visit(world.ids["grandpa"], date(2024, 5, 8))
        visit_id, was = visit.id, (visit.classification, visit.classification_source)
    assert was == ("controlled", "computed")
    changed = _good(tmp_path / "changed.xlsx", world, alice_phone="13900000099", grandpa_sbp=152)
    result = _import(app, changed, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    job = _last_import(app)
    assert _totals(job) == (10, 0, 2, 8, 0)
    counts = _sheet_counts(job)
    assert (counts[L.BASIC.name], counts[L.HYPERTENSION.name]) == ((3, 0, 1, 2, 0), (2, 0, 1, 1, 0))
    with app.app_context():
        assert db.session.get(Resident, world.ids["alice"]).phone == "13900000099"
        alice, grandpa = world.ids["alice"], world.ids["grandpa"]
        assert _marks(job.id) == [("followup_visits", visit_id, "updated"), ("residents", alice, "updated")]
        log = select(AccessLog.subject_resident_id, AccessLog.action).where(AccessLog.section == f"import:{job.id}")
        assert _all(log) == sorted([(alice, "update"), (grandpa, "update")])
        visit = _visit(world.ids["grandpa"], date(2024, 5, 8))
        assert (visit.id, visit.sbp, visit.dbp, visit.computed_classification) == (visit_id, 152, 78, "uncontrolled")
        # The file has no 此次随访分类 column: the stored classification was computed, so it follows
        # the new 收缩压 (a doctor's would stay).
        assert (visit.hypertension_classification, visit.classification, visit.classification_source) == (
            "uncontrolled", "uncontrolled", "computed"), "the classification did not follow the new 收缩压"  # fmt: skip


@pytest.mark.parametrize("kind", ["good", "bad"])
def test_a_dry_run_writes_nothing_and_counts_what_the_import_does(app, world, package, tmp_path, kind):
    path = (_good if kind == "good" else _bad_workbook)(tmp_path / "f.xlsx", world)
    mine = ("imports", "import_rejections")
    before = {k: v for k, v in _fingerprint(app).items() if k not in mine}
    dry = _import(app, path, "--institution", "HC01", "--dry-run")
    assert dry.exit_code == (0 if kind == "good" else 1) and "(dry run)" in dry.output, dry.output
    dry_job = _last_import(app)
    assert {k: v for k, v in _fingerprint(app).items() if k not in mine} == before
    real = _import(app, path, "--institution", "HC01")
    assert real.exit_code == dry.exit_code, real.output
    real_job = _last_import(app)
    assert dry_job.dry_run and not real_job.dry_run and dry_job.status == real_job.status == "done"
    assert _sheet_counts(dry_job) == _sheet_counts(real_job) and _totals(dry_job) == _totals(real_job)
    assert _sheet_counts(real_job) == (GOOD_COUNTS if kind == "good" else BAD_COUNTS)
    with app.app_context():
        dry_report, real_report = (rejections_of(db.session.get(Import, j.id)) for j in (dry_job, real_job))
        assert dry_report == real_report and (kind == "good") == (dry_report == [])


def test_another_institutions_archive_is_rejected_naming_the_subtree(app, world, tmp_path):
    bob, alice = world.numbers["bob"], world.numbers["alice"]
    path = _book(tmp_path / "b.xlsx", {
        L.BASIC.name: _sheet("姓名 身份证号 性别 出生日期 本人电话 管理机构编码",
                             ("刘强", bob, "男", date(1975, 1, 9), "13900000077", "HC01"),
                             ("张丽", alice, "女", date(1980, 5, 17), "13900000078", "HC01")),
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", (bob, "高血压", "2021-01-01")),
        L.DIABETES.name: _sheet("身份证号 随访日期 随访方式 空腹血糖值", (bob, date(2024, 6, 1), "电话", 6.0)),
    })  # fmt: skip
    before = _tables(app, ("conditions", "followup_visits"))
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 1, result.output
    job = _last_import(app)
    assert (job.rejected, job.updated) == (3, 1)
    with app.app_context():
        found = {(r["sheet"], r["row"], r["field"]): r["reason"] for r in rejections_of(job)}
        assert set(found) == {(L.BASIC.name, 2, "身份证号"), (L.CONDITIONS.name, 2, "身份证号"),
                              (L.DIABETES.name, 2, "身份证号")}  # fmt: skip
        assert all("subtree of HC01" in reason for reason in found.values()), found
        person = db.session.get(Resident, world.ids["bob"])
        assert (person.institution_id, person.phone) == (world.ids["b"], "13812345678")
        assert db.session.get(Resident, world.ids["alice"]).phone == "13900000078"
    assert _tables(app, before) == before  # neither bob's condition nor his visit


# --- a failure part-way, then the resume --------------------------------------------------------------

_VOLATILE = {"created_at", "updated_at", "at", "id_number_enc"}  # times; the cipher text is salted


def _snapshot(app) -> dict:
    """What an import leaves: the clinical tables, its marks and the access log (ids included)."""
    with app.app_context():
        tables = [db.metadata.tables[name] for name in (*CLINICAL, "import_records", "access_log")]
        return {t.name: _all(select(*[c for c in t.c if c.name not in _VOLATILE])) for t in tables}


def _fresh_world(app, world):
    """The database emptied as between tests and the same small district built again (the same ids)."""
    with app.app_context():
        empty_database()
        assert build_world().ids == world.ids


def _dies_then_resumes(app, world, path, fail_at: int):
    """An import run by a worker that dies once ``fail_at`` rows are in, then import-resume and a worker."""

    def dies(rows):
        if rows >= fail_at:
            raise RuntimeError("the worker died")

    with app.app_context():
        job = Import(institution_id=world.ids["a"], file_name=path.name, stored_path=str(path),
                     size=path.stat().st_size, status="running", attempts=1)  # fmt: skip
        db.session.add(job)
        db.session.commit()
        with pytest.raises(RuntimeError):
            run_import(job, on_rows=dies)
        db.session.refresh(job)
        assert (job.status, job.rows) == ("failed", fail_at) and job.error.startswith("RuntimeError")
        failed = (job.id, dict(job.cursor))
    runner = app.test_cli_runner()
    resumed = runner.invoke(args=["import-resume", str(failed[0])])
    assert resumed.exit_code == 0 and "queued" in resumed.output, resumed.output
    assert runner.invoke(args=["import-resume", str(failed[0])]).exit_code != 0  # queued now, not failed
    worked = runner.invoke(args=["import-worker", "--once"])
    assert worked.exit_code == 0 and "imports done 1, failed 0" in worked.output, worked.output
    job = _last_import(app)
    assert (job.id, job.status, job.progress, job.attempts) == (failed[0], "done", 1.0, 2)
    return job, failed[1]


def test_a_failure_part_way_resumes_to_the_same_records_and_counts(app, world, tmp_path, monkeypatch):
    monkeypatch.setattr(check, "BATCH", 2)
    born, grandpa = date(1955, 1, 1), world.numbers["grandpa"]
    numbers = [_number(born, 201 + 2 * i) for i in range(5)]
    path = _book(tmp_path / "many.xlsx", {
        L.BASIC.name: _sheet("姓名 身份证号 性别 出生日期 管理机构编码 户编号",
                             *[(f"居民{i}", n, "男", born, "HC01", f"H-M-{i // 2}") for i, n in enumerate(numbers)]),
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", *[(n, "高血压", "2020-02-02") for n in numbers]),
        L.HYPERTENSION.name: _sheet("身份证号 随访日期 随访方式 收缩压 舒张压",
                                    *[(n, date(2024, 3, 1 + i), "门诊", 130 + 5 * i, 80) for i, n in enumerate(numbers)],
                                    (grandpa, date(2024, 3, 9), "门诊", 160, 100)),
    })  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    whole, whole_job = _snapshot(app), _last_import(app)
    assert _totals(whole_job) == (16, 16, 0, 0, 0)
    _fresh_world(app, world)
    job, cursor = _dies_then_resumes(app, world, path, fail_at=7)  # 3 batches of the basic sheet, 1 of 慢病登记
    assert cursor == {L.BASIC.name: 6, L.CONDITIONS.name: 3}
    assert _sheet_counts(job) == _sheet_counts(whole_job) and _totals(job) == _totals(whole_job)
    assert _snapshot(app) == whole  # the same records, marks and access-log rows: nothing twice
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Condition)) == 2 + 5
        assert len(_marks(job.id)) == len(set(_marks(job.id))) == 16


# --- what follows an import ---------------------------------------------------------------------------


def test_a_new_hypertension_patient_gets_one_open_plan_from_the_imported_visit(app, world, tmp_path):
    seen_on = today() - timedelta(days=20)
    path = _book(tmp_path / "new.xlsx", {
        L.BASIC.name: _sheet("姓名 身份证号 性别 出生日期 管理机构编码", ("王新", N1, "男", N1_BORN, "HC01")),
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", (N1, "高血压", "2023-06-01")),
        L.HYPERTENSION.name: _sheet("身份证号 随访日期 随访方式 收缩压 舒张压", (N1, seen_on, "门诊", 132, 82)),
    })  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    with app.app_context():
        person = _resident(N1)
        visit = _visit(person.id, seen_on)
        plans = db.session.scalars(select(FollowupPlan).where(FollowupPlan.resident_id == person.id)).all()
        plans = [p for p in plans if p.disease == "hypertension"]
        assert [(p.status, p.last_visit_id) for p in plans] == [("open", visit.id)]
        assert plans[0].due_on > seen_on


def test_a_contract_with_a_package_makes_its_entitlements_and_the_team(app, world, package, tmp_path):
    starts = today() - timedelta(days=10)
    row = (world.numbers["alice"], starts, starts + timedelta(days=364), "已签约", "HC01", "鲸园二队", "赵医生", "FAM",
           "门诊", f"{starts.isoformat()}T10:00:00+08:00")  # fmt: skip
    result = _import(app, _book(tmp_path / "c.xlsx", {L.CONTRACTS.name: _sheet(CONTRACT_HEADERS, row)}))
    assert result.exit_code == 0, result.output
    with app.app_context():
        contract = db.session.scalars(select(Contract)).one()
        assert (contract.resident_id, contract.team_id, contract.doctor_id, contract.status) == (
            world.ids["alice"], world.ids["team_a2"], world.ids["a_doc2"], "active")  # fmt: skip
        assert (contract.fee, contract.public_health_subsidy) == (Decimal("120"), Decimal("20"))
        assert _all(select(ContractPackage.package_id, ContractPackage.price)) == [(package, Decimal("120"))]
        items = db.session.scalars(select(PackageItem).where(PackageItem.package_id == package)).all()
        got = db.session.scalars(select(ContractItem).where(ContractItem.contract_id == contract.id)).all()
        assert sorted((i.package_item_id, i.name, i.service_type, i.total, i.delivered) for i in got) == sorted(
            (i.id, i.name, i.service_type, i.times_per_year, 0) for i in items
        )
        assert db.session.get(Resident, world.ids["alice"]).team_id == world.ids["team_a2"]
