"""The deployed API answers a member of staff over gunicorn: log in, list residents, read an archive."""

from tests.deployed.conftest import staff_login


def test_staff_lists_residents_and_reads_an_archive(deployment):
    client = deployment.client(forwarded_for="203.0.113.20")
    staff = staff_login(client, "hc01-doc01")
    token = staff["access_token"]

    listed = client.get("/api/v1/residents", token=token, params={"per_page": 5})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] > 0 and page["items"]

    rid = page["items"][0]["id"]
    archive = client.get(f"/api/v1/residents/{rid}/archive", token=token)
    assert archive.status_code == 200, archive.text
    assert client.get("/readyz").json() == {"status": "ready"}
    deployment.check_alive()
