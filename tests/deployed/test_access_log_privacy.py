"""No ID number or mobile number in a URL or a log line (runs after the other deployed tests).

Staff look a resident up by ID number with ``POST /api/v1/residents/lookup`` (the number in
the body, never in the query string). Then every line of gunicorn's access logs and every
process's stdout and stderr is scanned for an 18-character ID number and an 11-digit mainland
mobile number — the generic shapes, and each number the deployed layer itself sent.
"""

import re

from tests.deployed.conftest import ISSUED, register_resident, staff_login

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _log_files(deployment):
    files = list(deployment.access_logs)
    for process in deployment.all_processes():
        files += [process.stdout_path, process.stderr_path]
    return [f for f in files if f.exists()]


def test_no_identifier_in_a_url_or_log_line(deployment, setup, doctor):
    resident = register_resident(setup, doctor, "隐私", phone="13912340017")
    staff = staff_login(deployment.client(forwarded_for="203.0.113.30"), "hc01-doc01")
    client = deployment.client(forwarded_for="203.0.113.30")
    lookup = client.post(
        "/api/v1/residents/lookup", token=staff["access_token"], json={"id_number": resident.id_number}
    )
    archive = client.get(f"/api/v1/residents/{resident.id}/archive", token=staff["access_token"])
    assert archive.status_code == 200, archive.text

    hits = []
    files = _log_files(deployment)
    assert any(f in files for f in deployment.access_logs)
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if ID_NUMBER.search(line) or MOBILE.search(line) or any(v in line for v in ISSUED):
                hits.append(f"{path.name}:{number}: {line[:300]}")
    assert not hits, "identifiers in log lines:\n" + "\n".join(hits[:20])

    assert lookup.status_code == 200, f"POST /api/v1/residents/lookup: {lookup.status_code} {lookup.text[:300]}"
    assert lookup.json()["id"] == resident.id
