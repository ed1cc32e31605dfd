"""Contracts through the API: apply → sign → active, reject, one current contract, family and
guardian signing, termination, renewal, and who may see or act on what."""

import threading
from datetime import timedelta

from sqlalchemy import func, select

from app.common.time import frozen, today
from app.contracts.models import Contract
from app.extensions import db
from app.notify.models import Outbox
from app.residents.models import Resident
from tests.contracts.helpers import apply, grant, noon, one_year_after, signed


def outbox(app, kind):
    with app.app_context():
        return [
            (o.recipient_kind, o.recipient_id, o.payload)
            for o in db.session.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id))
        ]


def contracts_of(app, resident_id):
    with app.app_context():
        return [
            (c.status, c.previous_contract_id)
            for c in db.session.scalars(
                select(Contract).where(Contract.resident_id == resident_id).order_by(Contract.id)
            )
        ]


# --- apply, sign, reject ---------------------------------------------------------------


def test_apply_from_the_phone_then_the_team_signs(api, world, pk, app):
    r = apply(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "pending" and body["resident_id"] == world.alice and body["team_id"] == world.team_a
    assert body["channel"] == "mini_program" and body["consent"]["channel"] == "mini_program"
    assert body["consent"]["by_resident_id"] == world.alice and body["consent"]["at"]
    assert body["starts_on"] is None and body["ends_on"] is None
    assert [(i["name"], i["total"], i["delivered"]) for i in body["items"]] == [
        ("年度健康评估", 1, 0),
        ("健康咨询", 4, 0),
    ]
    assert body["fee"] == 0.0 and body["public_health_subsidy"] == 30.0
    # the team leader hears of it
    assert [(k, rid) for k, rid, _ in outbox(app, "contract_applied")] == [("staff", world.a_doc)]

    s = api.post("a-nurse", f"/api/v1/contracts/{body['id']}/sign", json={})
    assert s.status_code == 200, s.json
    day = today()
    assert s.json["status"] == "active"
    assert s.json["starts_on"] == day.isoformat() and s.json["ends_on"] == one_year_after(day).isoformat()
    assert s.json["doctor"]["id"] == world.a_doc  # the team's GP leader is the responsible doctor
    assert [(k, rid) for k, rid, _ in outbox(app, "contract_signed")] == [("resident", world.alice)]
    seen = api.get("alice", f"/api/v1/contracts/{body['id']}")
    assert seen.status_code == 200 and seen.json["status"] == "active"
    me = api.get("alice", "/api/v1/me").json
    assert me["contract"]["id"] == body["id"] and me["contract"]["status"] == "active"
    assert me["contract"]["items_total"] == 5 and me["contract"]["items_delivered"] == 0


def test_signing_sets_the_responsible_team(api, world, pk, app):
    r = apply(api, "a-doc2", [world.alice], world.team_a2, [pk["basic"]])
    assert r.status_code == 201 and r.json["channel"] == "clinic" and r.json["consent"]["by_resident_id"] == world.alice
    assert api.post("a-doc2", f"/api/v1/contracts/{r.json['id']}/sign", json={}).status_code == 200
    with app.app_context():
        assert db.session.get(Resident, world.alice).team_id == world.team_a2


def test_consent_must_be_explicit_and_bad_input_writes_nothing(api, world, pk, app):
    base = {"resident_ids": [world.alice], "team_id": world.team_a, "package_ids": [pk["basic"]]}
    for body, field in [
        ({**base, "consent": False}, "consent"),
        (base, "consent"),
        ({**base, "consent": True, "team_id": world.team_b}, "team_id"),
        ({**base, "consent": True, "package_ids": [pk["elderly"]]}, "package_ids"),
        ({**base, "consent": True, "package_ids": [pk["basic"], pk["htn"]]}, "package_ids"),
        ({**base, "consent": True, "package_ids": [pk["basic"], pk["t2dm"]]}, "package_ids"),
        ({**base, "consent": True, "channel": "clinic"}, "channel"),
        ({**base, "consent": True, "extra": 1}, "extra"),
    ]:
        r = api.post("alice", "/api/v1/contracts", json=body)
        assert r.status_code == 422, (field, r.json)
        assert field in r.json["errors"], (field, r.json)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contract)) == 0


def test_the_team_rejects_with_a_reason(api, world, pk, app):
    r = apply(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    bad = api.post("a-nurse", f"/api/v1/contracts/{r.json['id']}/reject", json={})
    assert bad.status_code == 422 and "reason" in bad.json["errors"]
    x = api.post("a-nurse", f"/api/v1/contracts/{r.json['id']}/reject", json={"reason": "请先到中心建立健康档案"})
    assert x.status_code == 200 and x.json["status"] == "rejected"
    seen = api.get("alice", f"/api/v1/contracts/{r.json['id']}").json
    assert seen["reject_reason"] == "请先到中心建立健康档案"
    assert [p["reason"] for _, _, p in outbox(app, "contract_rejected")] == ["请先到中心建立健康档案"]
    # rejected: cannot be signed any more, and the resident may apply again
    assert api.post("a-doc", f"/api/v1/contracts/{r.json['id']}/sign", json={}).status_code == 409
    assert apply(api, "alice", [world.alice], world.team_a, [pk["basic"]]).status_code == 201


# --- one current contract ------------------------------------------------------------


def test_a_second_contract_is_409(api, world, pk, app):
    first = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    again = apply(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    assert again.status_code == 409 and again.json["error"] == "contract_exists"
    other_team = apply(api, "a-doc2", [world.alice], world.team_a2, [pk["basic"]])
    assert other_team.status_code == 409
    # a pending application blocks a second one too
    assert apply(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"]]).status_code == 201
    assert apply(api, "a-doc2", [world.grandpa], world.team_a2, [pk["basic"]]).status_code == 409
    assert contracts_of(app, world.alice) == [("active", None)] and first["status"] == "active"


def test_the_database_itself_refuses_a_second_current_contract(api, world, pk, app, monkeypatch):
    """Without the service's own check, the partial unique index still says no (→ 409)."""
    from app.contracts import lifecycle

    monkeypatch.setattr(lifecycle, "_ensure_nothing_open", lambda ids, ended=(): None)
    assert apply(api, "alice", [world.alice], world.team_a, [pk["basic"]]).status_code == 201
    second = apply(api, "a-doc2", [world.alice], world.team_a2, [pk["basic"]])
    assert second.status_code == 409 and second.json["error"] == "contract_exists"
    assert contracts_of(app, world.alice) == [("pending", None)]


def test_concurrent_applications_for_one_resident_make_exactly_one(api, world, pk, app, monkeypatch):
    """Two requests that both passed the service check: the partial unique index lets one through (both engines)."""
    from app.contracts import lifecycle

    real = lifecycle._ensure_nothing_open
    barrier = threading.Barrier(2)

    def racing(ids, ended=()):  # both requests pass the check before either inserts
        real(ids, ended)
        barrier.wait(timeout=10)

    monkeypatch.setattr(lifecycle, "_ensure_nothing_open", racing)
    headers = [api.as_("alice"), api.as_("a-doc")]
    bodies = [
        {"resident_ids": [world.alice], "team_id": world.team_a, "package_ids": [pk["basic"]], "consent": True}
    ] * 2
    codes = []

    def go(h, b):
        r = app.test_client().post("/api/v1/contracts", json=b, headers=h)
        codes.append(r.status_code)

    threads = [threading.Thread(target=go, args=(h, b)) for h, b in zip(headers, bodies, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [201, 409]
    assert contracts_of(app, world.alice) == [("pending", None)]


# --- family and guardian ------------------------------------------------------------------


def test_family_contract_signs_members_together(api, world, pk, app, monkeypatch):
    grant(monkeypatch, {world.alice: [world.child, world.grandpa]})
    r = apply(
        api,
        "alice",
        [world.alice, world.grandpa, world.child],
        world.team_a,
        [pk["basic"], pk["elderly"], pk["htn"], pk["child"]],
    )
    assert r.status_code == 201, r.json
    members = r.json["family_members"]
    assert [m["resident_id"] for m in members] == [world.alice, world.grandpa, world.child]
    assert {m["status"] for m in members} == {"pending"} and r.json["family_group_id"]
    by_resident = {m["resident_id"]: api.get("alice", f"/api/v1/contracts/{m['contract_id']}").json for m in members}
    # each member carries the basic package plus the personalised ones that fit them
    assert [p["code"] for p in by_resident[world.alice]["packages"]] == ["BASIC"]
    assert [p["code"] for p in by_resident[world.grandpa]["packages"]] == ["BASIC", "ELDER", "HTN"]
    assert [p["code"] for p in by_resident[world.child]["packages"]] == ["BASIC", "CHILD"]
    assert by_resident[world.child]["guardian_resident_id"] == world.alice
    assert by_resident[world.grandpa]["guardian_resident_id"] is None
    assert by_resident[world.grandpa]["fee"] == 200.0
    # signing one member signs the household
    s = api.post("a-doc", f"/api/v1/contracts/{by_resident[world.child]['id']}/sign", json={})
    assert s.status_code == 200
    assert [m["status"] for m in s.json["family_members"]] == ["active"] * 3
    # the child's "signed" message goes to the guardian
    assert sorted(rid for _, rid, _ in outbox(app, "contract_signed")) == sorted(
        [world.alice, world.grandpa, world.alice]
    )


def test_family_members_must_share_a_household(api, world, pk, monkeypatch, app):
    r = apply(api, "admin", [world.alice, world.bob], world.team_a, [pk["basic"]])
    assert r.status_code == 422 and "resident_ids" in r.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contract)) == 0


def test_a_child_is_signed_by_a_guardian(api, world, pk, monkeypatch):
    # the child's own account cannot sign for itself
    own = apply(api, "child", [world.child], world.team_a, [pk["basic"]])
    assert own.status_code == 422 and own.json["error"] == "guardian_required"
    # alice without a family grant: the child is outside her scope
    assert apply(api, "alice", [world.child], world.team_a, [pk["basic"]]).status_code == 404
    # in clinic, the doctor names the guardian present
    clinic = apply(api, "a-doc", [world.child], world.team_a, [pk["basic"]])
    assert clinic.status_code == 422 and "guardian_resident_id" in clinic.json["errors"]
    not_household = apply(api, "admin", [world.child], world.team_a, [pk["basic"]], guardian_resident_id=world.bob)
    assert not_household.status_code == 422 and not_household.json["error"] == "guardian_required"
    minor = apply(api, "a-doc", [world.child], world.team_a, [pk["basic"]], guardian_resident_id=world.child)
    assert minor.status_code == 422
    # with the grant, alice (adult, same household) signs for the child
    grant(monkeypatch, {world.alice: [world.child]})
    r = apply(api, "alice", [world.child], world.team_a, [pk["basic"], pk["child"]])
    assert r.status_code == 201, r.json
    assert r.json["guardian_resident_id"] == world.alice and r.json["consent"]["by_resident_id"] == world.alice


def test_an_adult_granted_but_not_a_guardian_cannot_sign_a_child(api, world, pk, monkeypatch):
    # bob (another household) somehow holds a grant for the child: still not the guardian
    grant(monkeypatch, {world.bob: [world.child]})
    r = apply(api, "bob", [world.child], world.team_a, [pk["basic"]])
    assert r.status_code == 422 and r.json["error"] == "guardian_required"


# --- scope ----------------------------------------------------------------------------------


def test_residents_and_other_teams_get_404(api, world, pk, monkeypatch):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    pending = apply(api, "bob", [world.bob], world.team_b, [pk["basic"]]).json
    cid = contract["id"]
    # bob: another family
    for method, path, body in [
        ("get", f"/api/v1/contracts/{cid}", None),
        ("post", f"/api/v1/contracts/{cid}/terminate", {"reason": "voluntary"}),
        ("post", f"/api/v1/contracts/{cid}/renew", {"consent": True}),
        ("get", f"/api/v1/contracts/{cid}/deliveries", None),
    ]:
        r = getattr(api, method)("bob", path, **({"json": body} if body is not None else {}))
        assert r.status_code == 404, (path, r.json)
        assert world.names["alice"] not in r.get_data(as_text=True)
    assert api.get("bob", "/api/v1/contracts").json["total"] == 1
    assert api.get("alice", f"/api/v1/contracts?resident_id={world.bob}").json["total"] == 0
    # a doctor of another team (same centre, or another centre) cannot see or sign
    assert api.post("b-doc", f"/api/v1/contracts/{pending['id']}/sign", json={}).status_code == 200
    other = apply(api, "alice", [world.grandpa], world.team_a, [pk["basic"]])
    assert other.status_code == 404  # grandpa is not alice's (no grant)
    p2 = apply(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"]]).json
    assert api.post("a-doc2", f"/api/v1/contracts/{p2['id']}/sign", json={}).status_code == 404
    assert api.post("b-doc", f"/api/v1/contracts/{p2['id']}/sign", json={}).status_code == 404
    assert api.get("b-doc", f"/api/v1/contracts/{p2['id']}").status_code == 404
    assert (
        api.post(
            "b-doc",
            f"/api/v1/contracts/{cid}/deliveries",
            json={"package_item_id": contract["items"][0]["package_item_id"], "delivered_on": today().isoformat()},
        ).status_code
        == 404
    )
    # the centre's admin sees the contract but does not sign for the team
    assert api.get("a-admin", f"/api/v1/contracts/{p2['id']}").status_code == 200
    assert api.post("a-admin", f"/api/v1/contracts/{p2['id']}/sign", json={}).status_code == 403
    assert api.get("b-admin", f"/api/v1/contracts/{p2['id']}").status_code == 404
    # residents cannot sign
    assert api.post("alice", f"/api/v1/contracts/{cid}/sign", json={}).status_code == 403
    listed = api.get("a-doc2", "/api/v1/contracts").json
    assert listed["total"] == 0


def test_lists_filter_by_status_team_and_resident(api, world, pk):
    signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    apply(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"], pk["htn"]])
    assert api.get("a-doc", "/api/v1/contracts").json["total"] == 2
    assert [c["resident_id"] for c in api.get("a-doc", "/api/v1/contracts?status=pending").json["items"]] == [
        world.grandpa
    ]
    assert api.get("a-doc", f"/api/v1/contracts?resident_id={world.alice}").json["total"] == 1
    assert api.get("a-admin", f"/api/v1/contracts?team_id={world.team_a}").json["total"] == 2
    assert api.get("admin", "/api/v1/contracts?status=active").json["total"] == 1


# --- terminate ---------------------------------------------------------------------------


def test_terminate_for_a_domain_reason(api, world, pk, app):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    cid = contract["id"]
    bad = api.post("a-doc", f"/api/v1/contracts/{cid}/terminate", json={"reason": "bored"})
    assert bad.status_code == 422 and "reason" in bad.json["errors"]
    # a resident ends a contract only voluntarily
    r = api.post("alice", f"/api/v1/contracts/{cid}/terminate", json={"reason": "moved_away"})
    assert r.status_code == 422 and "reason" in r.json["errors"]
    t = api.post("a-doc", f"/api/v1/contracts/{cid}/terminate", json={"reason": "moved_away", "note": "迁往烟台"})
    assert t.status_code == 200
    assert t.json["status"] == "terminated" and t.json["termination_reason"] == "moved_away"
    assert t.json["terminated_on"] == today().isoformat()
    assert api.post("a-doc", f"/api/v1/contracts/{cid}/terminate", json={"reason": "voluntary"}).status_code == 409
    # a terminated contract is not renewed; the resident may sign again
    assert api.post("a-doc", f"/api/v1/contracts/{cid}/renew", json={"consent": True}).status_code == 409
    assert apply(api, "alice", [world.alice], world.team_a, [pk["basic"]]).status_code == 201


def test_resident_terminates_voluntarily(api, world, pk):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    r = api.post("alice", f"/api/v1/contracts/{contract['id']}/terminate", json={"reason": "voluntary"})
    assert r.status_code == 200 and r.json["status"] == "terminated"
    assert api.get("alice", "/api/v1/me").json["contract"] is None


# --- renew -----------------------------------------------------------------------------------


def test_team_renews_near_the_end_the_link_is_kept_and_the_next_period_follows(api, world, pk, app):
    day = today()
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    ends = one_year_after(day)
    # too early: renewal opens 90 days before the end
    early = api.post("a-doc", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True})
    assert early.status_code == 409 and early.json["error"] == "renewal_not_open"
    with frozen(noon(ends - timedelta(days=20))):
        no_consent = api.post("a-doc", f"/api/v1/contracts/{contract['id']}/renew", json={})
        assert no_consent.status_code == 422 and "consent" in no_consent.json["errors"]
        r = api.post("a-doc", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True})
        assert r.status_code == 201, r.json
        nxt = r.json
        assert nxt["previous_contract_id"] == contract["id"] and nxt["status"] == "scheduled"
        assert nxt["starts_on"] == (ends + timedelta(days=1)).isoformat()
        assert nxt["ends_on"] == one_year_after(ends + timedelta(days=1)).isoformat()
        assert [p["code"] for p in nxt["packages"]] == ["BASIC"]
        twice = api.post("a-doc", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True})
        assert twice.status_code == 409 and twice.json["error"] == "already_renewed"
        old = api.get("alice", f"/api/v1/contracts/{contract['id']}").json
        assert old["renewal"] == {"id": nxt["id"], "status": "scheduled"}
    # the daily job ends the old period and starts the new one
    from app.contracts.jobs import run_daily

    with app.app_context():
        result = run_daily(ends + timedelta(days=1))
    assert result["expired"] == 1 and result["activated"] == 1
    assert contracts_of(app, world.alice) == [("expired", None), ("active", contract["id"])]


def test_resident_renews_from_the_phone_and_the_team_signs(api, world, pk, app):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    ends = one_year_after(today())
    with frozen(noon(ends - timedelta(days=10))):
        r = api.post("alice", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True})
        assert r.status_code == 201 and r.json["status"] == "renewal_pending"
        assert r.json["previous_contract_id"] == contract["id"]
        s = api.post("a-doc", f"/api/v1/contracts/{r.json['id']}/sign", json={})
        assert s.status_code == 200 and s.json["status"] == "scheduled"
        assert s.json["starts_on"] == (ends + timedelta(days=1)).isoformat()


def test_renewal_after_expiry_starts_today(api, world, pk, app, monkeypatch):
    grant(monkeypatch, {world.alice: [world.grandpa]})
    first = signed(api, "alice", [world.alice, world.grandpa], world.team_a, [pk["basic"], pk["htn"]])
    ends = one_year_after(today())
    from app.contracts.jobs import run_daily

    later = ends + timedelta(days=40)
    with frozen(noon(later)):
        with app.app_context():
            assert run_daily(later)["expired"] == 2
        r = api.post("a-doc", f"/api/v1/contracts/{first['id']}/renew", json={"consent": True})
        assert r.status_code == 201, r.json
        assert r.json["status"] == "active" and r.json["starts_on"] == later.isoformat()
        # the family renews together, in a new family group
        assert [m["status"] for m in r.json["family_members"]] == ["active", "active"]
        assert r.json["family_group_id"] != first["family_group_id"]
    assert [s for s, _ in contracts_of(app, world.grandpa)] == ["expired", "active"]
    assert contracts_of(app, world.grandpa)[1][1] is not None


def test_renewal_the_morning_after_the_end_before_the_night_job(api, world, pk, app):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    after = one_year_after(today()) + timedelta(days=1)
    with frozen(noon(after)):
        r = api.post("alice", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True})
        assert r.status_code == 201 and r.json["status"] == "pending"
        s = api.post("a-doc", f"/api/v1/contracts/{r.json['id']}/sign", json={})
        assert s.status_code == 200 and s.json["status"] == "active" and s.json["starts_on"] == after.isoformat()
    assert contracts_of(app, world.alice) == [("expired", None), ("active", contract["id"])]
