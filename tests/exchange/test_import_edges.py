"""Edges of the importer: a combined visit imported three times, packages and fees refused, archive
numbers that collide with the ones the product makes, another subtree's newborn and household, a csv
named after its sheet, a stale import taken over by another worker, a past contract's fee."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AccessLog
from app.common.time import at_local, now, today
from app.contracts.models import Contract, ContractPackage
from app.exchange import check
from app.exchange import layout as L
from app.exchange.importer import LeaseLost, own, rejections_of, run_import
from app.exchange.jobs import claim
from app.exchange.models import Import, ImportRecord
from app.extensions import db
from app.followups.models import FollowupVisit
from app.orgs.models import Institution
from app.residents.models import Condition, Household, Resident
from tests.exchange.test_check_import import _book, _number
from tests.exchange.test_import_api import _upload, _work, uploads  # noqa: F401  (the fixture, reused)
from tests.exchange.test_import_cli import (
    CONTRACT_HEADERS,
    N1,
    N1_BORN,
    N2,
    N2_BORN,
    _import,
    _last_import,
    _resident,
    _sheet,
    _sheet_counts,
    _totals,
    package,  # noqa: F401  (the fixture, reused)
)
from tests.factories import resident

BASIC_HEADERS = "档案编号 姓名 身份证号 性别 出生日期 管理机构编码"


def _rejected(job) -> dict[tuple, str]:
    return {(r["sheet"], r["row"], r["field"]): r["reason"] for r in rejections_of(job)}


def _columns(model, record_id) -> dict:
    """Every column of a stored record, as the database has it."""
    table = model.__table__
    return dict(db.session.execute(select(table).where(table.c.id == record_id)).one()._mapping)


def _contract_row(number, packages="FAM", *extra, starts=None):
    starts = starts or today() - timedelta(days=30)
    consent = f"{starts.isoformat()}T09:00:00+08:00"
    return (number, starts, starts + timedelta(days=364), "已签约", "HC01", "鲸园一队", "王医生", packages, "门诊",
            consent, *extra)  # fmt: skip


def _contract_of(resident_id):
    return db.session.scalars(select(Contract).where(Contract.resident_id == resident_id)).one_or_none()


# --- 1. a combined visit ----------------------------------------------------------------------------


def test_a_combined_visit_is_one_visit_and_the_same_file_again_leaves_it_alone(app, world, tmp_path):
    grandpa, on = world.numbers["grandpa"], date(2024, 5, 8)
    path = _book(tmp_path / "combined.xlsx", {
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", (grandpa, "2型糖尿病", "2023-01-10")),
        L.HYPERTENSION.name: _sheet("身份证号 随访日期 随访方式 收缩压 舒张压 空腹血糖值 备注",
                                    (grandpa, on, "门诊", 132, 82, 6.1, "高血压随访的备注")),
        L.DIABETES.name: _sheet("身份证号 随访日期 随访方式 空腹血糖值 糖化血红蛋白 足背动脉搏动 备注",
                                (grandpa, on, "门诊", 6.1, 6.8, "减弱", "糖尿病随访的备注")),
    })  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    job = _last_import(app)
    assert (job.status, _totals(job)) == ("done", (3, 3, 0, 0, 0))
    with app.app_context():
        visits = db.session.scalars(select(FollowupVisit).where(FollowupVisit.resident_id == world.ids["grandpa"]))
        visits = visits.all()
        assert len(visits) == 1, [(v.id, v.hypertension, v.t2dm) for v in visits]
        visit = visits[0]
        assert (visit.hypertension, visit.t2dm, visit.note) == (True, True, "高血压随访的备注")
        assert (visit.hba1c, visit.dorsalis_pedis, visit.fasting_glucose) == (6.8, "weakened", 6.1)
        assert (visit.hypertension_classification, visit.t2dm_classification) == ("controlled", "controlled")
        stored = _columns(FollowupVisit, visit.id)
    for attempt in (2, 3):
        again = _import(app, path, "--institution", "HC01")
        assert again.exit_code == 0, again.output
        job = _last_import(app)
        assert _totals(job) == (3, 0, 0, 3, 0), (attempt, _sheet_counts(job))
        with app.app_context():
            assert _columns(FollowupVisit, visit.id) == stored, f"import {attempt} changed the combined visit"
            assert db.session.scalar(select(func.count()).select_from(ImportRecord).where(
                ImportRecord.import_id == job.id)) == 0  # fmt: skip


# --- 2, 3. packages and fees refused, the rest imported -----------------------------------------------


def test_a_package_listed_twice_rejects_only_its_row(app, world, package, tmp_path):  # noqa: F811
    path = _book(tmp_path / "twice.xlsx", {L.CONTRACTS.name: _sheet(
        CONTRACT_HEADERS, _contract_row(world.numbers["alice"], "FAM；FAM"), _contract_row(world.numbers["grandpa"])
    )})  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 1, result.output
    job = _last_import(app)
    assert (job.status, job.error) == ("done", None)
    assert _sheet_counts(job) == {L.CONTRACTS.name: (2, 1, 0, 0, 1)}
    with app.app_context():
        found = _rejected(job)
        assert (
            list(found) == [(L.CONTRACTS.name, 2, "服务包")] and "listed twice" in found[L.CONTRACTS.name, 2, "服务包"]
        )
        assert _contract_of(world.ids["alice"]) is None
        assert _contract_of(world.ids["grandpa"]).fee == Decimal("120")


def test_a_fee_past_the_fen_or_above_the_maximum_is_rejected(app, world, package, tmp_path):  # noqa: F811
    n = world.numbers
    path = _book(tmp_path / "fees.xlsx", {L.CONTRACTS.name: _sheet(
        CONTRACT_HEADERS + " 签约费用", _contract_row(n["alice"], "FAM", 12.345),
        _contract_row(n["grandpa"], "FAM", 1000000), _contract_row(n["child"], "FAM", 30.5),
    )})  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 1, result.output
    job = _last_import(app)
    assert (job.status, _sheet_counts(job)) == ("done", {L.CONTRACTS.name: (3, 1, 0, 0, 2)})
    with app.app_context():
        found = _rejected(job)
        assert set(found) == {(L.CONTRACTS.name, 2, "签约费用"), (L.CONTRACTS.name, 3, "签约费用")}, found
        assert "2 decimal places" in found[L.CONTRACTS.name, 2, "签约费用"]
        assert "above the allowed" in found[L.CONTRACTS.name, 3, "签约费用"]
        assert _contract_of(world.ids["alice"]) is None and _contract_of(world.ids["grandpa"]) is None
        assert _contract_of(world.ids["child"]).fee == Decimal("30.50")


# --- 4, 5, 6. archive numbers and households --------------------------------------------------------


def test_a_given_archive_number_equal_to_the_next_made_one_is_kept_and_the_made_one_differs(app, world, tmp_path):
    with app.app_context():
        max_id = db.session.scalar(select(func.max(Resident.id)))
    given = f"HC01{max_id + 2:08d}"  # what the product makes for the second new archive
    path = _book(tmp_path / "numbers.xlsx", {L.BASIC.name: _sheet(
        BASIC_HEADERS, (given, "王新", N1, "男", N1_BORN, "HC01"), (None, "李梅", N2, "女", N2_BORN, "HC01")
    )})  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    job = _last_import(app)
    assert (job.status, job.error, _totals(job)) == ("done", None, (2, 2, 0, 0, 0))
    with app.app_context():
        first, second = _resident(N1), _resident(N2)
        assert second.id == max_id + 2, "precondition: the second archive got the id its number was given for"
        assert first.archive_no == given
        assert second.archive_no != given and second.archive_no.startswith("HC01"), second.archive_no
        numbers = db.session.scalars(select(Resident.archive_no)).all()
        assert len(numbers) == len(set(numbers)) == 6


def test_another_subtrees_newborn_archive_number_is_rejected(app, world, tmp_path):
    born = today() - timedelta(days=120)
    with app.app_context():
        baby = resident("小宝", db.session.get(Institution, world.ids["b"]), born, sex="female")
        baby.id_number_enc = baby.id_number_hash = None
        baby.archive_no = "HC0299999999"
        db.session.commit()
        baby_id, before = baby.id, _columns(Resident, baby.id)
        residents = db.session.scalar(select(func.count()).select_from(Resident))
    path = _book(tmp_path / "newborn.xlsx", {L.BASIC.name: _sheet(
        BASIC_HEADERS, ("HC0299999999", "小宝", None, "女", born, "HC01"))})  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 1, result.output
    job = _last_import(app)
    assert (job.status, _sheet_counts(job)) == ("done", {L.BASIC.name: (1, 0, 0, 0, 1)})
    with app.app_context():
        found = _rejected(job)
        assert list(found) == [(L.BASIC.name, 2, "档案编号")], found
        assert "the number of another archive" in found[L.BASIC.name, 2, "档案编号"]
        assert _columns(Resident, baby_id) == before  # still B's, untouched
        assert db.session.scalar(select(func.count()).select_from(Resident)) == residents


def test_a_household_of_another_subtree_is_rejected(app, world, tmp_path):
    with app.app_context():
        db.session.add(Household(code="H-B-9", address="竹岛路9号", institution_id=world.ids["b"]))
        db.session.commit()
    path = _book(tmp_path / "household.xlsx", {L.BASIC.name: _sheet(
        "姓名 身份证号 性别 出生日期 管理机构编码 户编号",
        ("王新", N1, "男", N1_BORN, "HC01", "H-B-9"), ("李梅", N2, "女", N2_BORN, "HC01", "H-N-2"))})  # fmt: skip
    result = _import(app, path, "--institution", "HC01")
    assert result.exit_code == 1, result.output
    job = _last_import(app)
    assert (job.status, _sheet_counts(job)) == ("done", {L.BASIC.name: (2, 1, 0, 0, 1)})
    with app.app_context():
        found = _rejected(job)
        assert list(found) == [(L.BASIC.name, 2, "户编号")], found
        assert "another subtree's household" in found[L.BASIC.name, 2, "户编号"]
        assert _resident(N1) is None
        assert db.session.get(Household, _resident(N2).household_id).code == "H-N-2"
        theirs = db.session.scalars(select(Household).where(Household.code == "H-B-9")).one()
        assert theirs.institution_id == world.ids["b"]
        assert db.session.scalar(select(func.count()).select_from(Resident).where(
            Resident.household_id == theirs.id)) == 0  # fmt: skip


# --- 7. a csv named after its sheet -------------------------------------------------------------------


def test_a_csv_named_after_its_sheet_needs_no_sheet_and_another_name_does(api, app, world, uploads):  # noqa: F811
    body = f"身份证号,疾病,确诊日期\n{world.numbers['grandpa']},2型糖尿病,2023-01-10\n".encode()
    r = _upload(api, "a-admin", body, "慢病登记.csv")
    assert r.status_code == 202, r.json
    assert _work(app) == {"done": 1, "failed": 0}
    got = api.get("a-admin", f"/api/v1/imports/{r.json['id']}").json
    assert (got["status"], got["error"], got["created"], got["rejected"]) == ("done", None, 1, 0), got
    with app.app_context():
        diseases = db.session.scalars(select(Condition.disease).where(Condition.resident_id == world.ids["grandpa"]))
        assert sorted(diseases) == ["hypertension", "t2dm"]
    r = _upload(api, "a-admin", body, "x.csv")
    assert r.status_code == 422 and "sheet" in r.json["errors"], (r.status_code, r.json)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Import)) == 1


# --- 9. a stale import taken over by another worker ----------------------------------------------------


def test_a_stale_import_taken_over_stops_its_first_worker_and_is_done_once(app, world, tmp_path, monkeypatch):
    monkeypatch.setattr(check, "BATCH", 2)
    born = date(1955, 1, 1)
    numbers = [_number(born, 301 + 2 * i) for i in range(5)]
    path = _book(tmp_path / "five.xlsx", {L.BASIC.name: _sheet(
        "姓名 身份证号 性别 出生日期 管理机构编码", *[(f"居民{i}", n, "男", born, "HC01") for i, n in enumerate(numbers)]
    )})  # fmt: skip
    with app.app_context():
        db.session.add(Import(institution_id=world.ids["a"], file_name=path.name, stored_path=str(path),
                              size=path.stat().st_size, status="queued"))  # fmt: skip
        db.session.commit()
        job = claim()
        import_id, old = job.id, job.attempts
        assert (job.status, old) == ("running", 1)
        taken = []

        def stalls_then_taken_over(rows):
            """After its first batch the first worker stalls; its heartbeat goes stale; another claims it."""
            if taken:
                return
            stale = now() - timedelta(hours=1)
            db.session.execute(update(Import).where(Import.id == import_id).values(heartbeat_at=stale))
            db.session.commit()
            taken.append(claim())

        with pytest.raises(LeaseLost):
            run_import(job, on_rows=stalls_then_taken_over)
        second = taken[0]
        assert second is not None and (second.id, second.attempts) == (import_id, old + 1)
        with pytest.raises(LeaseLost):
            own(second, old)  # the first worker's lease no longer holds the import
        db.session.rollback()
        db.session.refresh(second)
        # the first worker stopped without failing the import nor writing its second batch
        assert (second.status, second.rows, second.created, second.cursor) == ("running", 2, 2, {L.BASIC.name: 3})
        run_import(second)  # the second claim's run resumes from the cursor
        db.session.expire_all()
        done = db.session.get(Import, import_id)
        assert (done.status, done.error, done.attempts, _totals(done)) == ("done", None, old + 1, (5, 5, 0, 0, 0))
        assert [_resident(n) is not None for n in numbers] == [True] * 5
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 4 + 5
        marks = db.session.execute(select(ImportRecord.kind, ImportRecord.record_id).where(
            ImportRecord.import_id == import_id)).all()  # fmt: skip
        assert len(marks) == len(set(marks)) == 5
        logged = select(func.count()).select_from(AccessLog).where(AccessLog.section == f"import:{import_id}")
        assert db.session.scalar(logged) == 5


# --- 10. a past contract keeps its fee ----------------------------------------------------------------


@pytest.mark.parametrize("fee_column", ["absent", "empty"])
def test_a_stored_contract_keeps_its_fee_when_the_file_gives_none(app, world, package, tmp_path, fee_column):  # noqa: F811
    starts = today() - timedelta(days=30)
    with app.app_context():
        contract = Contract(resident_id=world.ids["alice"], team_id=world.ids["team_a"], doctor_id=world.ids["a_doc"],
                            status="active", channel="clinic", applicant_kind="staff", applicant_id=world.ids["a_doc"],
                            consent_at=at_local(starts, 9), consent_channel="clinic", signed_at=at_local(starts, 9),
                            starts_on=starts, ends_on=starts + timedelta(days=364), fee=Decimal("30"),
                            public_health_subsidy=Decimal("5"))  # fmt: skip
        db.session.add(contract)
        db.session.flush()
        db.session.add(ContractPackage(contract_id=contract.id, package_id=package, price=Decimal("30")))
        db.session.commit()
        contract_id = contract.id
    row = _contract_row(world.numbers["alice"], starts=starts)
    sheet = (
        _sheet(CONTRACT_HEADERS, row)
        if fee_column == "absent"
        else _sheet(CONTRACT_HEADERS + " 签约费用", (*row, None))
    )
    result = _import(app, _book(tmp_path / "past.xlsx", {L.CONTRACTS.name: sheet}), "--institution", "HC01")
    assert result.exit_code == 0, result.output
    job = _last_import(app)
    assert (job.status, job.rows, job.rejected) == ("done", 1, 0)
    with app.app_context():
        stored = db.session.get(Contract, contract_id)
        assert (stored.fee, stored.public_health_subsidy) == (Decimal("30"), Decimal("5")), (
            f"签约费用 {fee_column}: the past contract's fee became {stored.fee}"
        )


# --- 履约: imported services count against the contract in force ---------------------------------------------


def test_imported_visits_and_checks_are_delivered_against_the_contract_in_force(app, world, package, tmp_path):  # noqa: F811
    """A face-to-face visit and a health check inside the imported contract's period count once each
    against its entitlements, as if entered by hand (a phone visit does not); importing again counts
    nothing twice."""
    from app.contracts.models import ContractDelivery, ContractItem

    starts = today() - timedelta(days=60)
    consent = f"{starts.isoformat()}T09:00:00+08:00"
    sheets = {
        L.BASIC.name: _sheet("姓名 身份证号 性别 出生日期 管理机构编码", ("王新", N1, "男", N1_BORN, "HC01")),
        L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期", (N1, "高血压", "2023-06-01")),
        L.HYPERTENSION.name: _sheet(
            "身份证号 随访日期 随访方式 收缩压 舒张压",
            (N1, starts + timedelta(days=10), "门诊", 132, 82),
            (N1, starts + timedelta(days=20), "电话", 130, 80),
            (N1, starts - timedelta(days=30), "门诊", 128, 78),  # before the contract: not its delivery
        ),
        L.HEALTH_CHECKS.name: _sheet("身份证号 体检日期 收缩压 舒张压", (N1, starts + timedelta(days=15), 130, 80)),
        L.CONTRACTS.name: _sheet(
            CONTRACT_HEADERS,
            (N1, starts, starts + timedelta(days=364), "已签约", "HC01", "鲸园一队", "王医生", "FAM", "门诊", consent),
        ),
    }
    book = _book(tmp_path / "d.xlsx", sheets)
    for _ in range(2):
        result = _import(app, book, "--institution", "HC01")
        assert result.exit_code == 0, result.output
    with app.app_context():
        person = _resident(N1)
        items = {
            i.service_type: (i.delivered, i.total)
            for i in db.session.scalars(select(ContractItem).join(Contract).where(Contract.resident_id == person.id))
        }
        assert items == {"health_check": (1, 1), "chronic_followup": (1, 4)}
        deliveries = db.session.scalars(select(ContractDelivery)).all()
        clinic = db.session.scalar(
            select(FollowupVisit.id).where(FollowupVisit.resident_id == person.id, FollowupVisit.method == "clinic",
                                           FollowupVisit.visit_on == starts + timedelta(days=10))
        )  # fmt: skip
        assert sorted((d.source, d.service_type, d.delivered_on) for d in deliveries) == [
            ("followup_visit", "chronic_followup", starts + timedelta(days=10)),
            ("health_check", "health_check", starts + timedelta(days=15)),
        ]
        assert {d.source_id for d in deliveries if d.source == "followup_visit"} == {str(clinic)}
        assert next(d.note for d in deliveries if d.source == "followup_visit") == "高血压随访（门诊）"
