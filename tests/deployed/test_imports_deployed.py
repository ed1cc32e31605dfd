"""Issue 18's imports as deployed: uploaded over gunicorn, run by the worker processes, followed over HTTP.

An institution admin uploads a workbook (``POST /api/v1/imports``, 202 queued); the scheduler's
``imports`` job — and, in the second test, two ``flask import-worker`` processes beside it — claim
and run it; ``GET /api/v1/imports/{id}`` shows it done with its counts, and a doctor then finds the
new archives through the API. Uploads go to a gunicorn of their own (``imports``, 2 sync workers,
the operator's settings but for a small ``IMPORT_MAX_BYTES``, so that the size limit can be tested
without sending 64 MiB); the uploads wait in the database (``import_files``), which every worker reads.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from itertools import count

import pytest
from openpyxl import Workbook, load_workbook

from app.common.ids import make_id_number
from app.exchange import layout as L
from tests.deployed.conftest import ISSUED, PYTHON, staff_login, wait_for

LIMIT = 1024 * 1024  # IMPORT_MAX_BYTES of the uploads' gunicorn
AREA = "371083"  # a county no demo resident and no other deployed test uses
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BASIC_HEADERS = ["姓名", "身份证号", "性别", "出生日期", "管理机构编码"]
CONDITION_HEADERS = ["身份证号", "疾病", "确诊日期"]
_seq = count(1)


class Person:
    """A new resident: a valid ID number whose birth date and sex the row repeats."""

    def __init__(self, label: str, code: str):
        n = next(_seq)
        self.born = date(1952, 1, 1) + timedelta(days=211 * n)
        self.sex = "男" if n % 2 else "女"  # the 17th digit's parity: odd is male
        self.id_number = make_id_number(AREA, self.born, n)
        self.name, self.code = f"{label}{n}", code
        ISSUED.append(self.id_number)  # the privacy scan looks for it in every log line

    def basic(self) -> list:
        return [self.name, self.id_number, self.sex, self.born, self.code]


def workbook(people: list[Person], diseases: dict[str, list[str]] | None = None, bad: list[list] = ()) -> bytes:
    """居民基本信息 with ``people`` (and ``bad`` rows), 慢病登记 with each one's diseases (default 高血压)."""
    book = Workbook()
    book.remove(book.active)
    basic = book.create_sheet(L.BASIC.name)
    for row in [BASIC_HEADERS, *(p.basic() for p in people), *bad]:
        basic.append(row)
    conditions = book.create_sheet(L.CONDITIONS.name)
    conditions.append(CONDITION_HEADERS)
    for p in people:
        for disease in (diseases or {}).get(p.id_number, ["高血压"]):
            conditions.append([p.id_number, disease, p.born + timedelta(days=365 * 50)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, admin: dict, content: bytes, name: str = "居民.xlsx", mime: str = XLSX, **form):
    return client.post(
        "/api/v1/imports",
        token=admin["access_token"],
        files={"file": (name, content, mime)},
        data={k: str(v).lower() for k, v in form.items()},
    )


def queue(client, admin: dict, content: bytes, **form) -> int:
    response = upload(client, admin, content, **form)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and isinstance(body["id"], int), body
    return body["id"]


def finished(deployment, client, admin: dict, ids: list[int], timeout: float = 60) -> dict[int, dict]:
    """Poll ``GET /imports/{id}`` until every import is done or failed; the last answers by id."""
    seen: dict[int, dict] = {}

    def all_finished():
        for import_id in ids:
            response = client.get(f"/api/v1/imports/{import_id}", token=admin["access_token"])
            assert response.status_code == 200, response.text
            body = seen[import_id] = response.json()
            assert body["status"] in ("queued", "running", "done", "failed"), body
            assert 0 <= body["progress"] <= 1, body
        return all(seen[i]["status"] in ("done", "failed") for i in ids)

    wait_for(all_finished, timeout, f"imports {ids} to finish", deployment)
    failed = {i: b.get("error") for i, b in seen.items() if b["status"] != "done"}
    assert not failed, f"imports failed: {failed}"
    for body in seen.values():
        assert body["progress"] == 1.0 and body["finished_at"], body
    return seen


def sheet(body: dict, name: str) -> tuple[int, int, int, int, int]:
    s = body["sheets"][name]
    return s["rows"], s["created"], s["updated"], s["unchanged"], s["rejected"]


def imports_rows(deployment, ids: list[int]) -> dict[int, dict]:
    marks = ", ".join(str(int(i)) for i in ids)
    rows = deployment.sql(f"SELECT id, status, attempts, error FROM imports WHERE id IN ({marks})")
    return {r["id"]: dict(r) for r in rows}


def marks_of(deployment, ids: list[int]) -> dict[tuple[int, str, str], int]:
    """import_records: (import, table, action) → how many records the import marked."""
    marks = ", ".join(str(int(i)) for i in ids)
    rows = deployment.sql(
        "SELECT import_id, kind, action, COUNT(*) AS n FROM import_records "
        f"WHERE import_id IN ({marks}) GROUP BY import_id, kind, action"
    )
    return {(r["import_id"], r["kind"], r["action"]): r["n"] for r in rows}


def residents_named(deployment, prefix: str) -> int:
    return deployment.sql("SELECT COUNT(*) AS n FROM residents WHERE name LIKE :p", p=f"{prefix}%")[0]["n"]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imports_api(deployment):
    """A gunicorn for the uploads: the deployment's environment and a 1 MiB limit."""
    url = deployment.start_gunicorn("imports", IMPORT_MAX_BYTES=str(LIMIT))
    try:
        yield deployment.client(url)
    finally:
        deployment.stop("imports")


@pytest.fixture(scope="module")
def hc01_admin(setup) -> dict:
    return staff_login(setup, "hc01-admin")


@pytest.fixture(scope="module")
def hc02_admin(setup) -> dict:
    return staff_login(setup, "hc02-admin")


@pytest.fixture
def import_workers(deployment):
    """Two ``flask import-worker --poll 0.5`` beside the scheduler, stopped however the test ends."""
    names = ["import-worker-1", "import-worker-2"]
    argv = [PYTHON, "-m", "flask", "--app", "wsgi", "import-worker", "--poll", "0.5"]
    try:
        workers = [deployment.start(name, argv) for name in names]
        for worker in workers:
            deployment.wait_running(worker, seconds=1)
        yield workers
    finally:
        deployment.stop(*names)


# --- 1. an upload, run by the scheduler, found by a doctor -------------------------------------


def test_an_uploaded_workbook_is_imported_and_its_archives_are_found(deployment, imports_api, hc01_admin, doctor):
    people = [Person("导入甲", "HC01") for _ in range(4)]
    diseases = {people[0].id_number: ["高血压", "2型糖尿病"]}
    stray = make_id_number(AREA, date(1970, 1, 1), 999)
    stray = stray[:17] + ("0" if stray[17] != "0" else "1")  # a wrong checksum: rejected
    ISSUED.append(stray)
    content = workbook(people, diseases, bad=[["错号", stray, "男", date(1970, 1, 1), "HC01"]])

    # A dry run first (the oldest import runs first): what the import would do, writing nothing —
    # else the real one would find the archives there and count them unchanged.
    dry = queue(imports_api, hc01_admin, content, dry_run=True)
    real = queue(imports_api, hc01_admin, content)
    bodies = finished(deployment, imports_api, hc01_admin, [dry, real])
    for import_id in (dry, real):
        body = bodies[import_id]
        assert sheet(body, L.BASIC.name) == (5, 4, 0, 0, 1), body
        assert sheet(body, L.CONDITIONS.name) == (5, 5, 0, 0, 0), body
        assert (body["rows"], body["created"], body["rejected"]) == (10, 9, 1), body
        assert body["file_name"] == "居民.xlsx" and body["institution_id"] == hc01_admin["staff"]["institution_id"]
    assert bodies[dry]["dry_run"] is True and bodies[real]["dry_run"] is False
    assert marks_of(deployment, [dry]) == {}
    assert marks_of(deployment, [real]) == {(real, "residents", "created"): 4, (real, "conditions", "created"): 5}
    logged = deployment.sql(
        "SELECT DISTINCT section, action, actor_kind, actor_id, subject_resident_id FROM access_log "
        "WHERE section IN (:dry, :real)",
        dry=f"import:{dry}",
        real=f"import:{real}",
    )
    staff_id = hc01_admin["staff"]["id"]
    assert {(r["section"], r["action"], r["actor_kind"], r["actor_id"]) for r in logged} == {
        (f"import:{real}", "create", "staff", staff_id)
    }, logged
    assert len({r["subject_resident_id"] for r in logged}) == 4, logged  # each new archive, logged

    # The report names the rejected row, its ID number masked.
    report = imports_api.get(f"/api/v1/imports/{real}/report.xlsx", token=hc01_admin["access_token"])
    assert report.status_code == 200, report.text
    assert report.headers["Content-Type"].startswith(XLSX) and report.headers["Cache-Control"] == "no-store"
    rejected = list(load_workbook(io.BytesIO(report.content))["拒绝行"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[2]) for r in rejected] == [(L.BASIC.name, 6, "身份证号")], rejected
    assert stray not in repr(rejected) and AREA in repr(rejected), rejected  # masked: the area code only

    # A doctor of the centre finds them on the main API: by name, by ID number, and reads the archive.
    client = deployment.client(forwarded_for="203.0.113.60")
    token = doctor["access_token"]
    listed = client.get("/api/v1/residents", token=token, params={"q": "导入甲", "per_page": 50})
    assert listed.status_code == 200, listed.text
    assert sorted(r["name"] for r in listed.json()["items"]) == sorted(p.name for p in people)
    for person in people:
        found = client.post("/api/v1/residents/lookup", token=token, json={"id_number": person.id_number})
        assert found.status_code == 200, found.text
        resident = found.json()
        assert resident["name"] == person.name and resident["birth_on"] == person.born.isoformat()
        archive = client.get(f"/api/v1/residents/{resident['id']}/archive", token=token)
        assert archive.status_code == 200, archive.text
        diagnosed = {(c["disease"], c["diagnosed_on"]) for c in archive.json()["conditions"]}
        expected = {"hypertension"} | ({"t2dm"} if person is people[0] else set())
        assert {d for d, _ in diagnosed} == expected, archive.json()["conditions"]
        assert {on for _, on in diagnosed} == {(person.born + timedelta(days=365 * 50)).isoformat()}
    assert client.post("/api/v1/residents/lookup", token=token, json={"id_number": stray}).status_code in (404, 422)
    deployment.check_alive()


# --- 2. two import workers beside the scheduler: each import runs once ---------------------------


def test_two_import_workers_and_the_scheduler_run_each_import_once(
    deployment, imports_api, hc01_admin, hc02_admin, import_workers
):
    ours = [Person("导入乙", "HC01") for _ in range(12)]
    theirs = [Person("导入丙", "HC02") for _ in range(5)]
    # Overlapping files of one centre (they run one after another), one of another centre beside them.
    files = {
        "a": (hc01_admin, workbook(ours[0:6])),
        "b": (hc01_admin, workbook(ours[3:9])),
        "c": (hc01_admin, workbook(ours[0:3] + ours[9:12])),
        "d": (hc02_admin, workbook(theirs)),
    }
    ids = {key: queue(imports_api, admin, content) for key, (admin, content) in files.items()}
    bodies = {}
    for admin in (hc01_admin, hc02_admin):
        mine = [i for key, i in ids.items() if files[key][0] is admin]
        bodies.update(finished(deployment, imports_api, admin, mine))

    # Each ran once, to the end, and counted every row once.
    rows = imports_rows(deployment, list(ids.values()))
    assert {i: (r["status"], r["attempts"]) for i, r in rows.items()} == {i: ("done", 1) for i in ids.values()}, rows
    for body in bodies.values():
        assert body["rejected"] == body["updated"] == 0, body
        assert body["created"] + body["unchanged"] == body["rows"], body
        basic, conditions = sheet(body, L.BASIC.name), sheet(body, L.CONDITIONS.name)
        assert basic[1:3] == conditions[1:3], body  # a new resident's condition is new too
    hc01 = [bodies[ids[k]] for k in "abc"]
    assert sum(sheet(b, L.BASIC.name)[1] for b in hc01) == len(ours)  # 12 distinct residents
    assert sum(sheet(b, L.BASIC.name)[3] for b in hc01) == 6  # the overlaps, already there
    assert sheet(bodies[ids["d"]], L.BASIC.name) == (5, 5, 0, 0, 0)
    marks = marks_of(deployment, list(ids.values()))
    for key, import_id in ids.items():
        created = sheet(bodies[import_id], L.BASIC.name)[1]
        assert marks.get((import_id, "residents", "created"), 0) == created, (key, marks)
        assert marks.get((import_id, "conditions", "created"), 0) == created, (key, marks)
    assert not [m for m in marks if m[2] != "created"], marks
    assert residents_named(deployment, "导入乙") == len(ours) and residents_named(deployment, "导入丙") == len(theirs)
    one = deployment.sql(
        "SELECT COUNT(*) AS n FROM conditions c JOIN residents r ON r.id = c.resident_id WHERE r.name LIKE :p",
        p="导入乙%",
    )
    assert one[0]["n"] == len(ours)  # one hypertension each, however many files named it

    # The same file again, and the centre's own export: nothing new, nothing changed.
    export = imports_api.get("/api/v1/exports/archives.xlsx", token=hc01_admin["access_token"])
    assert export.status_code == 200, export.text
    assert len(export.content) <= LIMIT, len(export.content)
    again = {
        "a": queue(imports_api, hc01_admin, files["a"][1]),
        "export": queue(imports_api, hc01_admin, export.content),
    }
    bodies = finished(deployment, imports_api, hc01_admin, list(again.values()))
    for key, import_id in again.items():
        body = bodies[import_id]
        assert (body["created"], body["updated"], body["rejected"]) == (0, 0, 0), (key, body["sheets"])
        assert body["unchanged"] == body["rows"] > 0, (key, body)
    assert sheet(bodies[again["a"]], L.BASIC.name) == (6, 0, 0, 6, 0)
    assert sheet(bodies[again["export"]], L.BASIC.name)[0] >= len(ours) + 4  # the demo's and the imported
    rows = imports_rows(deployment, list(again.values()))
    assert [r["attempts"] for r in rows.values()] == [1, 1], rows
    assert marks_of(deployment, list(again.values())) == {}
    assert residents_named(deployment, "导入乙") == len(ours)
    # A done import's upload (ID numbers in full) is gone from the database.
    assert deployment.sql("SELECT COUNT(*) AS n FROM import_files")[0]["n"] == 0
    for worker in import_workers:
        assert worker.alive, worker.stderr()
    deployment.check_alive()


# --- 3. what the upload refuses ------------------------------------------------------------------


def _state(deployment, imports_api) -> tuple[int, int]:
    """The stored uploads and the imports: a refused upload must leave neither behind."""
    stored = deployment.sql("SELECT COUNT(*) AS n FROM import_files")[0]["n"]
    return stored, deployment.sql("SELECT COUNT(*) AS n FROM imports")[0]["n"]


def assert_names_file(response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["code"] == response.status_code and "file" in body.get("errors", {}), body


def test_an_upload_that_is_not_a_workbook_is_refused_naming_file(deployment, imports_api, hc01_admin, doctor):
    before = _state(deployment, imports_api)
    assert_names_file(upload(imports_api, hc01_admin, b"name,id\n", name="residents.txt", mime="text/plain"))
    assert_names_file(upload(imports_api, hc01_admin, b"not a zip archive", name="residents.xlsx"))
    assert_names_file(upload(imports_api, hc01_admin, "姓名\n王".encode("gbk") * 50, name="居民基本信息.csv"))
    assert_names_file(upload(imports_api, hc01_admin, b"", name="empty.xlsx"))
    missing = imports_api.post("/api/v1/imports", token=hc01_admin["access_token"], data={"dry_run": "true"})
    assert_names_file(missing)
    refused = upload(imports_api, doctor, workbook([]))
    assert refused.status_code == 403, refused.text
    assert _state(deployment, imports_api) == before, "a refused upload left a file or an import behind"
    deployment.check_alive()


def _assert_too_large(response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert (body["code"], body["error"]) == (413, "payload_too_large"), body


def test_an_upload_far_over_the_limit_is_a_413(deployment, imports_api, hc01_admin):
    before = _state(deployment, imports_api)
    _assert_too_large(upload(imports_api, hc01_admin, b"PK\x03\x04" + b"\0" * (2 * LIMIT)))
    assert _state(deployment, imports_api) == before, "a refused upload left a file or an import behind"
    deployment.check_alive()


def test_an_upload_just_over_the_limit_is_a_413(deployment, imports_api, hc01_admin):
    """One byte over IMPORT_MAX_BYTES: the promise is 413, whatever the multipart overhead allows."""
    before = _state(deployment, imports_api)
    _assert_too_large(upload(imports_api, hc01_admin, b"PK\x03\x04" + b"\0" * (LIMIT - 3)))
    assert _state(deployment, imports_api) == before, "a refused upload left a file or an import behind"
    deployment.check_alive()
