"""Entitlements and delivery (履约): counts, limits, the period, the service function for other features."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.common.time import frozen, today
from app.contracts.models import ContractDelivery
from app.extensions import db
from tests.contracts.helpers import apply, item, noon, one_year_after, signed


@pytest.fixture
def grandpa_contract(api, world, pk):
    return signed(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"], pk["elderly"], pk["htn"]])


def deliver(api, who, contract, service_type, day, note=None):
    return api.post(
        who,
        f"/api/v1/contracts/{contract['id']}/deliveries",
        json={
            "package_item_id": item(contract, service_type)["package_item_id"],
            "delivered_on": day.isoformat(),
            "note": note,
        },
    )


def count_rows(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ContractDelivery))


def test_deliveries_are_counted_and_the_resident_sees_what_was_used(api, world, grandpa_contract, app):
    day = today()
    r = deliver(api, "a-nurse", grandpa_contract, "chronic_followup", day, "血压 132/84")
    assert r.status_code == 201, r.json
    assert r.json["item"]["delivered"] == 1 and r.json["item"]["remaining"] == 3
    assert r.json["delivered_by_id"] == world.a_nurse and r.json["source"] == "manual"
    assert deliver(api, "a-doc", grandpa_contract, "chronic_followup", day).status_code == 201
    seen = api.get("a-doc", f"/api/v1/contracts/{grandpa_contract['id']}").json
    assert [(i["service_type"], i["total"], i["delivered"]) for i in seen["items"]] == [
        ("health_check", 1, 0),
        ("consultation", 4, 0),
        ("tcm_guidance", 1, 0),
        ("home_visit", 2, 0),
        ("chronic_followup", 4, 2),
        ("lab_test", 1, 0),
    ]
    listed = api.get("a-doc", f"/api/v1/contracts/{grandpa_contract['id']}/deliveries").json
    assert listed["total"] == 2 and listed["items"][1]["note"] == "血压 132/84"


def test_beyond_the_total_is_422_and_writes_nothing(api, world, grandpa_contract, app):
    day = today()
    assert deliver(api, "a-doc", grandpa_contract, "health_check", day).status_code == 201
    r = deliver(api, "a-doc", grandpa_contract, "health_check", day)
    assert r.status_code == 422 and "package_item_id" in r.json["errors"]
    assert count_rows(app) == 1
    assert item(api.get("a-doc", f"/api/v1/contracts/{grandpa_contract['id']}").json, "health_check")["delivered"] == 1


def test_outside_the_period_is_422(api, world, grandpa_contract, app):
    day = today()
    before = deliver(api, "a-doc", grandpa_contract, "consultation", day - timedelta(days=1))
    assert before.status_code == 422 and "delivered_on" in before.json["errors"]
    future = deliver(api, "a-doc", grandpa_contract, "consultation", day + timedelta(days=1))
    assert future.status_code == 422 and "delivered_on" in future.json["errors"]
    ends = one_year_after(day)
    with frozen(noon(ends + timedelta(days=5))):
        after = deliver(api, "a-doc", grandpa_contract, "consultation", ends + timedelta(days=1))
        assert after.status_code == 422 and "delivered_on" in after.json["errors"]
        # the last day of the period still counts when recorded late
        assert deliver(api, "a-doc", grandpa_contract, "consultation", ends).status_code == 201
    assert count_rows(app) == 1


def test_item_not_in_contract_pending_contract_and_other_staff(api, world, pk, grandpa_contract):
    r = api.post(
        "a-doc",
        f"/api/v1/contracts/{grandpa_contract['id']}/deliveries",
        json={"package_item_id": 999999, "delivered_on": today().isoformat()},
    )
    assert r.status_code == 422 and "package_item_id" in r.json["errors"]
    pending = apply(api, "alice", [world.alice], world.team_a, [pk["basic"]]).json
    p = deliver(api, "a-doc", pending, "health_check", today())
    assert p.status_code == 409 and p.json["error"] == "contract_not_signed"
    assert deliver(api, "a-doc2", grandpa_contract, "health_check", today()).status_code == 404
    assert deliver(api, "a-admin", grandpa_contract, "health_check", today()).status_code == 403
    assert deliver(api, "alice", grandpa_contract, "health_check", today()).status_code == 403


def test_the_team_sees_undelivered_items(api, world, pk, grandpa_contract):
    signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    deliver(api, "a-doc", grandpa_contract, "health_check", today())
    r = api.get("a-doc", f"/api/v1/contracts/undelivered?team_id={world.team_a}&resident_id={world.grandpa}")
    assert r.status_code == 200
    assert [(i["service_type"], i["remaining"]) for i in r.json["items"]] == [
        ("consultation", 4),
        ("tcm_guidance", 1),
        ("home_visit", 2),
        ("chronic_followup", 4),
        ("lab_test", 1),
    ]
    all_team = api.get("a-doc", "/api/v1/contracts/undelivered?service_type=health_check").json
    assert [i["resident"]["id"] for i in all_team["items"]] == [world.alice]
    assert api.get("a-doc2", "/api/v1/contracts/undelivered").json["total"] == 0
    assert api.get("b-doc", f"/api/v1/contracts/undelivered?team_id={world.team_a}").status_code == 404


def test_record_delivery_for_other_features(api, world, pk, grandpa_contract, app):
    from app.contracts.deliveries import record_delivery

    day = today()
    with app.app_context():
        first = record_delivery(None, world.grandpa, "chronic_followup", day, source="followup", source_id=41)
        assert first is not None and first.source_id == "41"
        # the same visit again: not counted twice
        assert record_delivery(None, world.grandpa, "chronic_followup", day, source="followup", source_id=41) is None
        for visit in (42, 43, 44):
            assert (
                record_delivery(None, world.grandpa, "chronic_followup", day, source="followup", source_id=visit)
                is not None
            )
        # all four used: silently nothing
        assert record_delivery(None, world.grandpa, "chronic_followup", day, source="followup", source_id=45) is None
        # no contract, no such item, outside the period: nothing
        assert record_delivery(None, world.bob, "chronic_followup", day, source="followup", source_id=46) is None
        assert record_delivery(None, world.grandpa, "prenatal_check", day, source="x", source_id=1) is None
        assert (
            record_delivery(
                None, world.grandpa, "health_check", day - timedelta(days=3), source="health_check", source_id=7
            )
            is None
        )
        db.session.commit()
    seen = api.get("a-doc", f"/api/v1/contracts/{grandpa_contract['id']}").json
    assert item(seen, "chronic_followup")["delivered"] == 4
    assert count_rows(app) == 4
