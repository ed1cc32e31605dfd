"""Rotating ID_NUMBER_KEY online: lookups keep working before, during and after."""

from sqlalchemy import select

from app.common.ids import IdNumberVault
from app.extensions import db
from app.residents.models import Resident


def test_rotation_keeps_lookups_working_and_reencrypts(app, world, monkeypatch):
    from app import create_app

    old_key = app.config["ID_NUMBER_KEY"]
    monkeypatch.setenv("ID_NUMBER_KEY", "a-brand-new-id-number-key-for-2027")
    monkeypatch.setenv("ID_NUMBER_OLD_KEYS", old_key)
    rotated_app = create_app("testing")
    client = rotated_app.test_client()
    token = client.post(
        "/api/v1/auth/staff/login", json={"username": "admin", "password": "correct-horse-battery"}
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def find_bob():
        r = client.post("/api/v1/residents/lookup", json={"id_number": world.numbers["bob"]}, headers=headers)
        assert r.status_code == 200
        return [r.json["id"]]

    assert find_bob() == [world.bob]  # before rotation: found through the old key's hash
    result = rotated_app.test_cli_runner().invoke(args=["residents", "rotate-id-key", "--batch", "2"])
    assert result.exit_code == 0 and "rotated 4 archives" in result.output
    assert find_bob() == [world.bob]
    new_only = IdNumberVault("a-brand-new-id-number-key-for-2027")
    with rotated_app.app_context():
        rows = db.session.execute(select(Resident.id, Resident.id_number_enc, Resident.id_number_hash)).all()
    by_id = {r.id: r for r in rows}
    assert new_only.decrypt(by_id[world.bob].id_number_enc) == world.numbers["bob"]
    assert by_id[world.bob].id_number_hash == new_only.lookup_hash(world.numbers["bob"])
