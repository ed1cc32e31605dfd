"""Idempotency-Key: a repeated creating POST returns the first answer and creates nothing."""

from sqlalchemy import text

from app.extensions import db

BODY = {"name": "孙悦", "id_number": "11010519491231002X", "address": "环翠区新路1号"}


def count(app):
    with app.app_context():
        return db.session.scalar(text("SELECT count(*) FROM residents"))


def test_replay_returns_first_response(api, world, app):
    headers = {"Idempotency-Key": "k-123"}
    first = api.post("a-doc", "/api/v1/residents", json={**BODY, "institution_id": world.a}, headers=headers)
    again = api.post("a-doc", "/api/v1/residents", json={**BODY, "institution_id": world.a}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(app) == 5


def test_failures_are_not_kept_and_another_callers_key_is_refused(api, world, app):
    headers = {"Idempotency-Key": "same"}
    bad = api.post("a-doc", "/api/v1/residents", json={**BODY, "institution_id": world.b}, headers=headers)
    assert bad.status_code == 422
    # the failed request kept nothing: the key is free for the corrected request
    good = api.post("a-doc", "/api/v1/residents", json={**BODY, "institution_id": world.a}, headers=headers)
    assert good.status_code == 201
    # the same key from another caller is another request: refused, never given a-doc's answer
    other = api.post("a-admin", "/api/v1/residents", json={**BODY, "institution_id": world.a}, headers=headers)
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    assert count(app) == 5
