"""Idempotency-Key reused for another request, its transaction and its lifetime.

A key names one request: the same method, path, caller and body. Anything else under that key
is refused (422 ``idempotency_key_reused``) rather than answered with another request's result;
the key is stored in the same commit as the work it guards, and it expires.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text

from app.common.time import freeze
from app.extensions import db

ALICE = {"name": "孙悦", "id_number": "11010519491231002X", "address": "环翠区新路1号"}
BOB = {"name": "周明", "id_number": "110105195203040332", "address": "环翠区新路2号"}
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def residents(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(text("SELECT name FROM residents")))


def key_rows(app) -> list:
    with app.app_context():
        return db.session.execute(text("SELECT key, status_code FROM idempotency_keys ORDER BY key")).all()


def assert_reused(response):
    assert response.status_code == 422, response.json
    assert response.json["error"] == "idempotency_key_reused"
    assert set(response.json["errors"]) == {"Idempotency-Key"}
    assert response.headers.get("Idempotent-Replayed") is None


def test_same_key_with_another_body_is_refused_not_answered_with_the_first(api, world, app):
    key = {"Idempotency-Key": "k-body"}
    first = api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key)
    assert first.status_code == 201
    second = api.post("a-doc", "/api/v1/residents", json={**BOB, "institution_id": world.a}, headers=key)
    assert_reused(second)
    assert "孙悦" not in second.get_data(as_text=True)
    assert "周明" not in residents(app)
    # the second resident is created as soon as the client sends it under its own key
    fresh = api.post(
        "a-doc", "/api/v1/residents", json={**BOB, "institution_id": world.a}, headers={"Idempotency-Key": "k-body-2"}
    )
    assert fresh.status_code == 201 and fresh.json["name"] == "周明"


def test_same_key_on_another_path_is_refused(api, world, app):
    key = {"Idempotency-Key": "k-path"}
    assert (
        api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key).status_code
        == 201
    )
    other = api.post(
        "a-doc",
        f"/api/v1/residents/{world.alice}/conditions",
        json={"disease": "t2dm", "diagnosed_on": "2024-03-01"},
        headers=key,
    )
    assert_reused(other)
    with app.app_context():
        assert (
            db.session.scalar(text("SELECT count(*) FROM conditions WHERE resident_id = :r"), {"r": world.alice}) == 0
        )


def test_same_key_from_another_caller_is_refused_and_never_replayed_to_them(api, world, app):
    key = {"Idempotency-Key": "k-caller"}
    mine = api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key)
    assert mine.status_code == 201
    # the exact same request from another caller: not the first caller's answer
    same_body = api.post("a-admin", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key)
    assert_reused(same_body)
    assert str(mine.json["id"]) not in same_body.get_data(as_text=True)
    other_body = api.post("a-admin", "/api/v1/residents", json={**BOB, "institution_id": world.a}, headers=key)
    assert_reused(other_body)
    assert residents(app) == {"张丽", "张小明", "张建国", "刘强", "孙悦"}
    # the first caller still gets their replay
    again = api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key)
    assert again.status_code == 201 and again.json == mine.json
    assert again.headers["Idempotent-Replayed"] == "true"


def test_replay_is_the_schema_dumped_body_the_client_got(api, world):
    freeze(NOW)
    key = {"Idempotency-Key": "k-slot"}
    slot = {"team_id": world.team_a, "service": "consultation", "capacity": 3}
    body = [
        {**slot, "starts_at": "2026-12-03T09:00:00+08:00", "ends_at": "2026-12-03T09:30:00+08:00"},
        {**slot, "starts_at": "2026-12-03T09:30:00+08:00", "ends_at": "2026-12-03T10:00:00+08:00"},
    ]
    first = api.post("a-doc", "/api/v1/slots", json=body, headers=key)
    assert first.status_code == 201, first.json
    again = api.post("a-doc", "/api/v1/slots", json=body, headers=key)
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


def _count_commits(app):
    """Every COMMIT the database receives (savepoint releases are not commits)."""
    commits = []
    with app.app_context():
        engine = db.engine

    def on_commit(connection):
        commits.append(connection)

    event.listen(engine, "commit", on_commit)
    return commits, lambda: event.remove(engine, "commit", on_commit)


def test_key_and_work_are_one_commit(api, world, app):
    """A crash can never leave the work done and its key "in progress": there is no second commit."""
    api.as_("a-doc")  # log in first: the login commits its own session
    commits, stop = _count_commits(app)
    try:
        r = api.post(
            "a-doc",
            "/api/v1/residents",
            json={**ALICE, "institution_id": world.a},
            headers={"Idempotency-Key": "k-once"},
        )
    finally:
        stop()
    assert r.status_code == 201
    assert len(commits) == 1
    assert key_rows(app) == [("k-once", 201)]


def test_without_the_header_the_work_is_still_committed(api, world, app):
    r = api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a})
    assert r.status_code == 201
    assert "孙悦" in residents(app)
    assert api.get("a-doc", f"/api/v1/residents/{r.json['id']}").status_code == 200
    assert key_rows(app) == []


def test_keys_expire_after_the_configured_hours(api, world, app):
    assert app.config["IDEMPOTENCY_KEY_HOURS"] == 24
    key = {"Idempotency-Key": "k-old"}
    freeze(NOW)
    assert (
        api.post("a-doc", "/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=key).status_code
        == 201
    )
    freeze(NOW + timedelta(hours=23))
    assert_reused(api.post("a-doc", "/api/v1/residents", json={**BOB, "institution_id": world.a}, headers=key))
    # past the window the key is free again, even before the daily job removed it
    freeze(NOW + timedelta(hours=25))
    reused = api.post("a-doc", "/api/v1/residents", json={**BOB, "institution_id": world.a}, headers=key)
    assert reused.status_code == 201 and reused.json["name"] == "周明"
    assert reused.headers.get("Idempotent-Replayed") is None


def test_the_daily_job_deletes_expired_keys(api, world, app):
    freeze(NOW)
    assert (
        api.post(
            "a-doc",
            "/api/v1/residents",
            json={**ALICE, "institution_id": world.a},
            headers={"Idempotency-Key": "k-day-1"},
        ).status_code
        == 201
    )
    freeze(NOW + timedelta(hours=20))
    assert (
        api.post(
            "a-doc",
            "/api/v1/residents",
            json={**BOB, "institution_id": world.a},
            headers={"Idempotency-Key": "k-day-2"},
        ).status_code
        == 201
    )
    freeze(None)
    runner = app.test_cli_runner()
    at = (NOW + timedelta(hours=25)).isoformat()
    result = runner.invoke(args=["scheduler", "run-once", "idempotency-expire", "--at", at])
    assert result.exit_code == 0, result.output
    assert "'deleted': 1" in result.output
    assert [row.key for row in key_rows(app)] == ["k-day-2"]
    listed = runner.invoke(args=["scheduler", "list"])
    assert "idempotency-expire" in listed.output


def test_concurrent_repeats_create_one_and_all_get_its_answer(api, world, app):
    """Repeats racing the first wait for it on the key and replay its answer (no 409, no twin)."""
    import threading

    headers = {**api.as_("a-doc"), "Idempotency-Key": "k-race"}
    start = threading.Barrier(4)
    answers = []

    def send():
        client = app.test_client()
        start.wait()
        r = client.post("/api/v1/residents", json={**ALICE, "institution_id": world.a}, headers=headers)
        answers.append((r.status_code, r.get_data()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [201] * 4
    assert len({body for _, body in answers}) == 1
    assert residents(app) == {"张丽", "张小明", "张建国", "刘强", "孙悦"}
