"""Family access (proxy): a child under 14 of the household at once, anyone else with consent."""

from datetime import date

from sqlalchemy import select

from app.common.time import at_local, freeze
from app.extensions import db
from app.family.models import FamilyGrant
from app.notify.models import Outbox
from tests.archive.helpers import (
    add_resident,
    fresh_id_sequence,  # noqa: F401  (autouse)
    grant,
    log_rows,
)


def archive(api, who, rid):
    return api.get(who, f"/api/v1/residents/{rid}/archive")


def outbox(app, kind):
    with app.app_context():
        return [
            (o.recipient_kind, o.recipient_id, o.dedup_key)
            for o in db.session.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id))
        ]


def test_guardian_sees_a_child_under_14_of_the_household_at_once(api, world, app):
    r = grant(api, "alice", "child", "child", world)
    assert r.status_code == 201, r.json
    assert {k: r.json[k] for k in ("resident_id", "name", "relation", "status", "basis", "awaiting")} == {
        "resident_id": world.child,
        "name": "张小明",
        "relation": "child",
        "status": "active",
        "basis": "guardian_auto",
        "awaiting": None,
    }

    seen = archive(api, "alice", world.child)
    assert seen.status_code == 200
    assert seen.json["basic_info"]["name"] == "张小明"
    assert seen.json["basic_info"]["phone"] == "138****5678"  # the full phone is the child's own
    assert world.numbers["child"] not in seen.get_data(as_text=True)
    reads = log_rows(app, world.child, action="read")
    assert [(x.actor_kind, x.actor_display, x.section, x.purpose) for x in reads] == [
        ("family", "张丽", "archive", "family_access")
    ]

    listed = api.get("alice", "/api/v1/me/family").json
    assert [(i["grant_id"], i["resident_id"], i["name"], i["relation"], i["status"]) for i in listed] == [
        (r.json["grant_id"], world.child, "张小明", "child", "active")
    ]
    me = api.get("alice", "/api/v1/me").json
    assert [(i["resident_id"], i["status"]) for i in me["family"]] == [(world.child, "active")]
    # the basic sheet endpoint uses the same scope
    assert api.get("alice", f"/api/v1/residents/{world.child}").status_code == 200
    # nobody is asked: the guardian's access needs no acceptance
    assert outbox(app, "family_request") == []


def test_adult_relative_only_after_acceptance(api, world, app):
    r = grant(api, "alice", "grandpa", "parent", world)
    assert r.status_code == 201
    assert (r.json["status"], r.json["basis"], r.json["awaiting"]) == ("pending", None, "resident")
    grant_id = r.json["grant_id"]

    denied = archive(api, "alice", world.grandpa)
    assert denied.status_code == 404
    assert "张建国" not in denied.get_data(as_text=True)
    assert log_rows(app, world.grandpa, action="read") == []
    assert outbox(app, "family_request") == [("resident", world.grandpa, f"family-grant:{grant_id}:request")]

    requests = api.get("grandpa", "/api/v1/me/family/requests").json
    assert [(i["grant_id"], i["name"], i["relation"], i["status"], i["origin"]) for i in requests] == [
        (grant_id, "张丽", "parent", "pending", "request")
    ]
    # only the person themself accepts: not the requester, not a stranger
    assert api.post("alice", f"/api/v1/me/family/requests/{grant_id}/accept").status_code == 404
    assert api.post("bob", f"/api/v1/me/family/requests/{grant_id}/accept").status_code == 404

    ok = api.post("grandpa", f"/api/v1/me/family/requests/{grant_id}/accept")
    assert ok.status_code == 200, ok.json
    assert (ok.json["status"], ok.json["basis"], ok.json["name"]) == ("active", "accepted", "张丽")
    assert api.post("grandpa", f"/api/v1/me/family/requests/{grant_id}/accept").status_code == 409
    assert outbox(app, "family_grant_active")[0][:2] == ("resident", world.alice)

    seen = archive(api, "alice", world.grandpa)
    assert seen.status_code == 200 and seen.json["populations"] == ["elderly", "hypertension"]
    reads = log_rows(app, world.grandpa, action="read")
    assert [(x.actor_kind, x.actor_display, x.purpose) for x in reads] == [("family", "张丽", "family_access")]
    viewers = api.get("grandpa", "/api/v1/me/family/viewers").json
    assert [(i["grant_id"], i["name"], i["status"], i["basis"]) for i in viewers] == [
        (grant_id, "张丽", "active", "accepted")
    ]
    assert api.get("grandpa", "/api/v1/me/family/requests").json == []
    # the grant events are on grandpa's log too
    events = [(x.action, x.section, x.actor_kind) for x in log_rows(app, world.grandpa) if x.section == "family_grant"]
    assert events == [("create", "family_grant", "family"), ("update", "family_grant", "resident")]


def test_revocation_by_either_side(api, world, app):
    first = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    api.post("grandpa", f"/api/v1/me/family/requests/{first}/accept")
    assert archive(api, "alice", world.grandpa).status_code == 200

    # the person viewed revokes
    assert api.delete("bob", f"/api/v1/me/family/{first}").status_code == 404
    assert api.delete("grandpa", f"/api/v1/me/family/{first}").status_code == 204
    gone = archive(api, "alice", world.grandpa)
    assert gone.status_code == 404 and "张建国" not in gone.get_data(as_text=True)
    assert api.get("alice", "/api/v1/me/family").json == []
    assert api.delete("grandpa", f"/api/v1/me/family/{first}").status_code == 204  # idempotent

    # asked again, accepted again, and this time the viewer gives it up
    second = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    assert second != first
    api.post("grandpa", f"/api/v1/me/family/requests/{second}/accept")
    assert archive(api, "alice", world.grandpa).status_code == 200
    assert api.delete("alice", f"/api/v1/me/family/{second}").status_code == 204
    assert archive(api, "alice", world.grandpa).status_code == 404
    with app.app_context():
        rows = db.session.scalars(select(FamilyGrant).order_by(FamilyGrant.id)).all()
        assert [(g.status, g.revoked_by) for g in rows] == [("revoked", "resident"), ("revoked", "grantor")]
        assert all(g.revoked_at is not None for g in rows)

    # a pending request can be declined the same way
    third = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    assert api.delete("grandpa", f"/api/v1/me/family/{third}").status_code == 204
    assert api.post("grandpa", f"/api/v1/me/family/requests/{third}/accept").status_code == 409


def test_stranger_cannot_see_and_a_child_outside_the_household_needs_staff(api, world, app):
    assert archive(api, "bob", world.child).status_code == 404
    r = grant(api, "bob", "child", "child", world)  # claims to be the father, lives elsewhere
    assert r.status_code == 201
    assert (r.json["status"], r.json["awaiting"]) == ("pending", "staff")
    assert archive(api, "bob", world.child).status_code == 404
    # a child under 14 cannot consent on their own phone (PIPL art. 31), nobody is notified
    refused = api.post("child", f"/api/v1/me/family/requests/{r.json['grant_id']}/accept")
    assert refused.status_code == 409 and refused.json["error"] == "guardian_consent_required"
    assert outbox(app, "family_request") == []
    assert archive(api, "bob", world.child).status_code == 404


def test_staff_confirm_in_person(api, world, app):
    grant_id = grant(api, "bob", "child", "child", world).json["grant_id"]
    url = f"/api/v1/family-grants/{grant_id}/confirm"
    assert api.post("b-doc", url, json={}).status_code == 404  # the child is not in centre B's scope
    assert api.post("bob", url, json={}).status_code == 403
    ok = api.post("a-doc", url, json={"note": "核对户口簿和出生医学证明"})
    assert ok.status_code == 200, ok.json
    assert (ok.json["status"], ok.json["basis"], ok.json["confirmed_by_staff_id"], ok.json["grantor_name"]) == (
        "active",
        "staff_confirmed",
        world.a_doc,
        "刘强",
    )
    assert ok.json["confirmed_at"] is not None and ok.json["confirmation_note"] == "核对户口簿和出生医学证明"
    assert api.post("a-doc", url, json={}).status_code == 409
    assert archive(api, "bob", world.child).status_code == 200

    listed = api.get("a-doc", "/api/v1/family-grants", query_string={"resident_id": world.child})
    assert [(i["grant_id"], i["status"], i["confirmed_by_staff_id"]) for i in listed.json] == [
        (grant_id, "active", world.a_doc)
    ]
    assert api.get("b-doc", "/api/v1/family-grants", query_string={"resident_id": world.child}).status_code == 404
    confirm_rows = [x for x in log_rows(app, world.child) if x.section == "family_grant" and x.action == "update"]
    assert [(x.actor_kind, x.actor_display, x.institution_id, x.purpose) for x in confirm_rows] == [
        ("staff", "王医生", world.a, "administration")
    ]


def test_a_grant_reaches_one_archive_only(api, world, app):
    # grandpa sees his grandchild (same household, under 14); bob is granted grandpa's archive
    assert grant(api, "grandpa", "child", "grandchild", world).json["status"] == "active"
    bob_grant = grant(api, "bob", "grandpa", "parent", world).json["grant_id"]
    api.post("grandpa", f"/api/v1/me/family/requests/{bob_grant}/accept")
    assert archive(api, "bob", world.grandpa).status_code == 200
    assert archive(api, "bob", world.child).status_code == 404
    assert api.get("bob", f"/api/v1/residents/{world.child}/archive/access-log").status_code == 404
    assert [i["resident_id"] for i in api.get("bob", "/api/v1/me/family").json] == [world.grandpa]
    # nor can a viewer manage the relative's own grants
    child_grant = api.get("grandpa", "/api/v1/me/family").json[0]["grant_id"]
    assert api.delete("bob", f"/api/v1/me/family/{child_grant}").status_code == 404


def test_request_checks(api, world, app, client):
    wrong_name = api.post(
        "alice", "/api/v1/me/family", json={"name": "别人", "id_number": world.numbers["bob"], "relation": "sibling"}
    )
    assert wrong_name.status_code == 404 and wrong_name.json["error"] == "archive_not_found"
    assert "刘强" not in wrong_name.get_data(as_text=True)
    nobody = api.post(
        "alice", "/api/v1/me/family", json={"name": "张三", "id_number": "11010519491231002X", "relation": "parent"}
    )
    assert nobody.status_code == 404 and nobody.json["error"] == "archive_not_found"
    bad = api.post(
        "alice", "/api/v1/me/family", json={"name": "张三", "id_number": "110105194912310021", "relation": "parent"}
    )
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]
    self_ = grant(api, "alice", "alice", "other", world)
    assert self_.status_code == 422 and "id_number" in self_.json["errors"]
    relation = grant(api, "alice", "grandpa", "boss", world)
    assert relation.status_code == 422 and "relation" in relation.json["errors"]
    assert grant(api, "alice", "grandpa", "parent", world).status_code == 201
    twice = grant(api, "alice", "grandpa", "parent", world)
    assert twice.status_code == 409 and twice.json["error"] == "grant_exists"
    # staff have no family; an unbound account must bind its own archive first
    assert (
        api.post(
            "a-doc", "/api/v1/me/family", json={"name": "x", "id_number": world.numbers["bob"], "relation": "other"}
        ).status_code
        == 403
    )
    token = client.post("/api/v1/auth/wechat/login", json={"code": "loner:1"}).json["access_token"]
    unbound = client.post(
        "/api/v1/me/family",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": world.names["bob"], "id_number": world.numbers["bob"], "relation": "other"},
    )
    assert unbound.status_code == 403 and unbound.json["error"] == "account_not_bound"
    assert client.get("/api/v1/me/family", headers={"Authorization": f"Bearer {token}"}).json == []
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FamilyGrant)) == 1


def test_idempotent_request(api, world, app):
    headers = {"Idempotency-Key": "fam-1"}
    body = {"name": world.names["grandpa"], "id_number": world.numbers["grandpa"], "relation": "parent"}
    first = api.post("alice", "/api/v1/me/family", json=body, headers=headers)
    again = api.post("alice", "/api/v1/me/family", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json == again.json
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FamilyGrant)) == 1


def test_only_an_adult_of_the_household_is_an_automatic_guardian(api, world, app):
    freeze(at_local(date(2025, 6, 15), 10))
    add_resident(app, world, "teen", "张小红", world.a, date(2011, 1, 1), sex="female", household_id=world.home)
    add_resident(app, world, "cousin", "李小军", world.a, date(2020, 1, 1), household_id=world.home)
    # a 14+ young person is not an automatic child of the household: they consent themselves
    assert grant(api, "alice", "teen", "child", world).json["status"] == "pending"
    # a minor in the household is no guardian of a younger one
    assert grant(api, "teen", "cousin", "ward", world).json["status"] == "pending"
    # nor is a sibling relation a guardianship
    assert grant(api, "alice", "cousin", "sibling", world).json["status"] == "pending"
    assert archive(api, "alice", world.cousin).status_code == 404
