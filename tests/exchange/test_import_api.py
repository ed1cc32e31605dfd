"""``POST /api/v1/imports`` and ``GET /api/v1/imports/{id}`` (and its report.xlsx): the upload, the queue
the worker runs, who may, what is refused, one import at a time per institution, a resume."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.audit.models import AccessLog
from app.exchange import check
from app.exchange import layout as L
from app.exchange.importer import run_import
from app.exchange.jobs import claim, requeue, work_queued
from app.exchange.models import Import
from app.extensions import db
from app.followups import plans_job
from app.followups.models import FollowupPlan
from tests.exchange.test_check_import import EXPECTED, _bad_workbook, _book, _fingerprint
from tests.exchange.test_import_cli import (
    GOOD_COUNTS,
    N1,
    _all,
    _fresh_world,
    _good,
    _import,
    _last_import,
    _resident,
    _sheet,
    _sheet_counts,
    _visit,
    package,  # noqa: F401  (the fixture, reused)
)
from tests.factories import ApiClient

URL = "/api/v1/imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MINE = ("imports", "import_rejections")


class _Stored:
    """The uploads waiting in the database (import_files), by import."""

    def __init__(self, app):
        self.app = app

    def files(self) -> dict[int, bytes]:
        from app.exchange.models import ImportFile

        with self.app.app_context():
            return {f.import_id: f.content for f in db.session.scalars(select(ImportFile))}


@pytest.fixture
def uploads(app):
    return _Stored(app)


def _upload(api, who, path_or_bytes, name=None, **form):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    body = {"file": (io.BytesIO(data), name or path_or_bytes.name), **form}
    return api.post(who, URL, data=body, content_type="multipart/form-data")


def _work(app) -> dict:
    with app.app_context():
        return work_queued()


def _queued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Import))


def _except_mine(app) -> dict:
    return {name: value for name, value in _fingerprint(app).items() if name not in MINE}


def _counts(body) -> dict[str, tuple]:
    keys = ("rows", "created", "updated", "unchanged", "rejected")
    return {name: tuple(s[k] for k in keys) for name, s in body["sheets"].items()}


# --- upload, queue, worker ----------------------------------------------------------------------------


def test_an_upload_is_queued_then_worked_and_followed(api, app, world, package, uploads, tmp_path):  # noqa: F811
    r = _upload(api, "a-admin", _good(tmp_path / "good.xlsx", world))
    assert r.status_code == 202, r.json
    assert r.json == {"id": r.json["id"], "status": "queued"}
    import_id = r.json["id"]
    stored = uploads.files()
    assert list(stored) == [import_id] and stored[import_id] == (tmp_path / "good.xlsx").read_bytes()
    body = api.get("a-admin", f"{URL}/{import_id}").json
    assert (body["status"], body["progress"], body["rows"], body["institution_id"]) == ("queued", 0.0, 0, world.a)
    with app.app_context():
        assert _resident(N1) is None  # nothing before a worker runs it
    assert _work(app) == {"done": 1, "failed": 0}
    r = api.get("a-admin", f"{URL}/{import_id}")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["status"], body["progress"], body["error"], body["dry_run"]) == ("done", 1.0, None, False)
    assert (body["file_name"], body["finished_at"] is not None) == ("good.xlsx", True)
    assert tuple(body[k] for k in ("rows", "created", "updated", "unchanged", "rejected")) == (10, 9, 0, 1, 0)
    assert _counts(body) == GOOD_COUNTS
    assert api.get("admin", f"{URL}/{import_id}").json["status"] == "done"  # the district admin sees it too
    with app.app_context():
        person = _resident(N1)
        assert (person.name, person.phone, person.institution_id) == ("王新", "13900000001", world.a)
        log = _all(select(AccessLog.actor_kind, AccessLog.actor_id).where(AccessLog.section == f"import:{import_id}"))
        assert len(log) == 9 and set(log) == {("staff", world.a_admin)}  # the admin who uploaded it
        assert db.session.get(Import, import_id).requested_by_id == world.a_admin
    assert _work(app) == {"done": 0, "failed": 0}  # nothing left in the queue


def test_the_report_lists_the_rejected_rows(api, app, world, uploads, tmp_path):
    r = _upload(api, "a-admin", _bad_workbook(tmp_path / "bad.xlsx", world))
    assert r.status_code == 202, r.json
    import_id = r.json["id"]
    _work(app)
    body = api.get("a-admin", f"{URL}/{import_id}").json
    assert (body["status"], body["rows"], body["rejected"]) == ("done", 19, 15)
    assert body["sheets"][L.BASIC.name]["ignored_columns"] == ["微信号"]
    r = api.get("a-admin", f"{URL}/{import_id}/report.xlsx")
    assert r.status_code == 200 and r.mimetype == XLSX and r.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(r.data))
    rows = list(book["拒绝行"].iter_rows(values_only=True))
    assert rows[0] == ("工作表", "行号", "字段", "原因", "值")
    for sheet, row, header, reason in EXPECTED:
        assert any(f[:3] == (sheet, row, header) and reason in f[3] for f in rows[1:]), (sheet, row, header)
    assert {f[:3] for f in rows[1:]} == {e[:3] for e in EXPECTED}
    summary = {s[0]: s for s in list(book["汇总"].iter_rows(values_only=True))[1:]}
    assert set(summary) == {L.BASIC.name, L.HYPERTENSION.name} and summary[L.BASIC.name][3] == 7


def test_a_dry_run_through_the_api_writes_nothing(api, app, world, package, uploads, tmp_path):  # noqa: F811
    api.staff_token("a-admin")  # logged in before the fingerprint
    before = _except_mine(app)
    r = _upload(api, "a-admin", _good(tmp_path / "good.xlsx", world), dry_run="true")
    assert r.status_code == 202, r.json
    assert _work(app) == {"done": 1, "failed": 0}
    assert _except_mine(app) == before
    body = api.get("a-admin", f"{URL}/{r.json['id']}").json
    assert (body["status"], body["dry_run"], body["progress"]) == ("done", True, 1.0)
    assert _counts(body) == GOOD_COUNTS  # what the import would do
    with app.app_context():
        assert _resident(N1) is None


# --- who may ------------------------------------------------------------------------------------------


def test_who_may_upload_and_follow_an_import(api, app, world, uploads, tmp_path):
    path = _book(tmp_path / "a.xlsx", {L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期")})
    r = _upload(api, "a-doc", path)
    assert r.status_code == 403, r.json
    r = _upload(api, "a-admin", path, institution_id=str(world.b))  # another institution
    assert r.status_code == 404 and r.json["error"] == "not_found", r.json
    assert _queued(app) == 0 and uploads.files() == {}
    own = _upload(api, "a-admin", path, institution_id=str(world.a1))  # a clinic of A: its subtree
    assert own.status_code == 202, own.json
    import_id = own.json["id"]
    for path_ in (f"{URL}/{import_id}", f"{URL}/{import_id}/report.xlsx"):
        assert api.get("a-doc", path_).status_code == 403
        refused, missing = api.get("b-admin", path_), api.get("b-admin", f"{URL}/999999")
        assert refused.status_code == missing.status_code == 404
        assert refused.json == missing.json  # B's admin cannot tell it from a missing one
        assert api.get("a-admin", path_).status_code == 200
    with app.app_context():
        assert db.session.get(Import, import_id).institution_id == world.a1
    assert _upload(api, "admin", path, institution_id=str(world.b)).status_code == 202  # the district's admin


def test_only_xlsx_and_csv_are_taken(api, app, world, uploads, tmp_path):
    for data, name in ((b"hello", "notes.txt"), (b"not a zip archive", "fake.xlsx"), (b"\xff\xfe\x00a", "x.csv")):
        r = _upload(api, "a-admin", data, name)
        assert 400 <= r.status_code < 500 and r.status_code != 413, (name, r.status_code)
        assert r.is_json and "file" in r.json["errors"], (name, r.json)
    assert _queued(app) == 0
    assert uploads.files() == {}  # nothing left behind


def test_an_upload_far_over_the_limit_is_413(api, app, world, uploads, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 4096)
    r = _upload(api, "a-admin", b"PK\x03\x04" + b"0" * (200 * 1024), "big.xlsx")
    assert r.status_code == 413 and r.is_json and r.json["error"] == "payload_too_large", r.status_code
    assert _queued(app) == 0


def test_an_upload_just_over_the_limit_is_413_too(api, app, world, uploads, monkeypatch):
    """Over IMPORT_MAX_BYTES by less than the room the route leaves for the form around the file: the
    request passes, the stored upload does not."""
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 4096)
    r = _upload(api, "a-admin", b"PK\x03\x04" + b"0" * 4093, "big.xlsx")  # 4097 bytes
    assert r.status_code == 413 and r.is_json and "file" in r.json["errors"], (r.status_code, r.json)
    assert _queued(app) == 0 and uploads.files() == {}
    assert _upload(api, "a-admin", b"PK\x03\x04" + b"0" * 4092, "fits.xlsx").status_code == 202  # 4096 bytes


# --- one import at a time ------------------------------------------------------------------------------


def test_imports_run_one_at_a_time_in_the_order_they_came(api, app, world, uploads, tmp_path):
    """Subtrees overlap (a centre's, its clinic's, the district's): while one import runs, every other
    one waits — another institution's too — and the next is claimed once it is done."""
    path = _book(tmp_path / "c.xlsx", {L.CONDITIONS.name: _sheet("身份证号 疾病 确诊日期")})
    first, second = (_upload(api, "a-admin", path).json["id"] for _ in range(2))
    other = _upload(api, "b-admin", path).json["id"]
    with app.app_context():
        running = claim()
        assert (running.id, running.status) == (first, "running")
        assert claim() is None  # A's second and B's wait while the first runs
        assert {db.session.get(Import, i).status for i in (second, other)} == {"queued"}
        run_import(db.session.get(Import, first))
        assert db.session.get(Import, first).status == "done"
        then = claim()
        assert then is not None and then.id == second
        run_import(then)
        last = claim()
        assert last is not None and last.id == other
    assert api.get("b-admin", f"{URL}/{other}").json["status"] == "running"


# --- a failure part-way, then the resume ---------------------------------------------------------------


def test_a_failed_import_resumes_remembering_the_rows_and_visits_before_the_failure(
    app, client, world, uploads, tmp_path, monkeypatch
):
    """Row 5 repeats the key of row 3, finished before the worker died; grandpa's only visit is in that
    first batch, and his open first plan is done by it. The resumed import must end as one that ran
    straight through (flask import, before)."""
    monkeypatch.setattr(check, "BATCH", 2)
    grandpa, alice = world.numbers["grandpa"], world.numbers["alice"]
    path = _book(tmp_path / "dup.xlsx", {L.HYPERTENSION.name: _sheet(
        "身份证号 随访日期 随访方式 收缩压 舒张压", (grandpa, date(2024, 3, 1), "门诊", 130, 80),
        (alice, date(2024, 3, 2), "电话", 132, 80), (alice, date(2024, 3, 3), "电话", 134, 80),
        (alice, date(2024, 3, 2), "电话", 170, 100))})  # fmt: skip

    def state():
        with app.app_context():
            p = FollowupPlan
            plans = _all(select(p.resident_id, p.status, p.last_visit_id, p.closed_by_visit_id).where(p.disease == "hypertension"))  # fmt: skip
            return plans, _visit(world.ids["alice"], date(2024, 3, 2)).sbp

    with app.app_context():
        plans_job.ensure_plans()  # grandpa's first plan, before any visit
    assert _import(app, path, "--institution", "HC01").exit_code == 1
    whole_job, whole = _last_import(app), state()
    assert _sheet_counts(whole_job) == {L.HYPERTENSION.name: (4, 3, 0, 0, 1)} and whole[1] == 132
    assert [s for _, s, _, _ in whole[0] if s == "done"] == ["done"]

    _fresh_world(app, world)
    with app.app_context():
        plans_job.ensure_plans()
    api = ApiClient(client, world)
    import_id = _upload(api, "a-admin", path).json["id"]

    def dies(rows):
        raise RuntimeError("the worker died")

    with app.app_context():
        job = claim()
        assert job.id == import_id
        with pytest.raises(RuntimeError):
            run_import(job, on_rows=dies)
    body = api.get("a-admin", f"{URL}/{import_id}").json
    assert (body["status"], body["rows"], body["created"]) == ("failed", 2, 2) and body["error"].startswith(
        "RuntimeError"
    )
    assert 0 < body["progress"] < 1
    with app.app_context():
        assert requeue(db.session.get(Import, import_id))
        db.session.commit()
    assert _work(app) == {"done": 1, "failed": 0}
    body = api.get("a-admin", f"{URL}/{import_id}").json
    assert (body["status"], body["progress"]) == ("done", 1.0)
    resumed, problems = state(), []
    # The resumed run remembers the rows before the cursor (their keys) and the residents whose
    # visits it imported (their plans follow), as the uninterrupted run did.
    if _counts(body) != _sheet_counts(whole_job) or resumed[1] != whole[1]:
        problems.append(f"row 5 (the key of row 3) not rejected: {_counts(body)}, row 3's sbp now {resumed[1]}")
    if resumed[0] != whole[0]:
        problems.append(f"grandpa's plan did not follow his visit: {resumed[0]} != {whole[0]}")
    assert problems == []
