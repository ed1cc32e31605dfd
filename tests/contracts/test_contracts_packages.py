"""Service packages: creation rules, eligibility per population and institution, versioning."""

from datetime import timedelta

from sqlalchemy import func, select

from app.common.time import today
from app.contracts.models import ServicePackage
from app.extensions import db
from tests.contracts.helpers import BASIC, ELDERLY, HTN, apply, item, make_packages, signed


def names(response):
    assert response.status_code == 200, response.json
    return sorted(p["code"] for p in response.json["items"])


def test_admin_creates_packages_with_recorded_subsidy(api, world):
    made = make_packages(api, world)
    basic, elderly = made["basic"], made["elderly"]
    assert basic["kind"] == "basic" and basic["populations"] == [] and basic["version"] == 1
    assert basic["public_health_subsidy"] == 30.0  # the district's public-health share, by default
    assert elderly["public_health_subsidy"] == 20.0 and elderly["price"] == 120.0
    assert elderly["institution_ids"] == [world.a]
    assert [(i["service_type"], i["times_per_year"]) for i in elderly["items"]] == [
        ("tcm_guidance", 1),
        ("home_visit", 2),
    ]


def test_package_rules_are_422_naming_the_field_and_write_nothing(api, world, app):
    cases = [
        ({**BASIC, "populations": ["elderly"], "institution_ids": [world.a]}, "populations"),
        ({**ELDERLY, "populations": [], "institution_ids": [world.a]}, "populations"),
        ({**ELDERLY, "institution_ids": [world.b]}, "institution_ids"),  # outside a-admin's subtree
        ({**ELDERLY, "valid_until": "2019-01-01", "institution_ids": [world.a]}, "valid_until"),
        ({**ELDERLY, "items": [], "institution_ids": [world.a]}, "items"),
        ({**ELDERLY, "populations": ["astronauts"], "institution_ids": [world.a]}, "populations"),
        (
            {
                **ELDERLY,
                "institution_ids": [world.a],
                "items": [{"name": "x", "service_type": "magic", "times_per_year": 1}],
            },
            "items",
        ),
        ({**ELDERLY, "institution_ids": [world.a], "price": -1}, "price"),
    ]
    for body, field in cases:
        r = api.post("a-admin", "/api/v1/packages", json=body)
        assert r.status_code == 422, (field, r.json)
        assert field in r.json["errors"], (field, r.json)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServicePackage)) == 0


def test_only_institution_admins_create_and_codes_are_unique(api, world):
    assert api.post("a-doc", "/api/v1/packages", json={**HTN, "institution_ids": [world.a]}).status_code == 403
    assert api.post("alice", "/api/v1/packages", json={**HTN, "institution_ids": [world.a]}).status_code == 403
    assert api.post("a-admin", "/api/v1/packages", json={**HTN, "institution_ids": [world.a]}).status_code == 201
    again = api.post("b-admin", "/api/v1/packages", json={**HTN, "institution_ids": [world.b]})
    assert again.status_code == 409 and again.json["error"] == "duplicate_code"


def test_residents_list_packages_they_are_eligible_for(api, world, monkeypatch):
    make_packages(api, world)
    from tests.contracts.helpers import grant

    grant(monkeypatch, {world.alice: [world.child, world.grandpa]})
    # alice: an adult of 40-odd years with no condition → the basic package only
    assert names(api.get("alice", "/api/v1/packages")) == ["BASIC"]
    # grandpa (born 1950, hypertension, at clinic A1 under centre A): basic, elderly, hypertension
    assert names(api.get("alice", f"/api/v1/packages?resident_id={world.grandpa}")) == ["BASIC", "ELDER", "HTN"]
    assert names(api.get("alice", f"/api/v1/packages?resident_id={world.child}")) == ["BASIC", "CHILD"]
    assert names(api.get("alice", f"/api/v1/packages?resident_id={world.grandpa}&population=hypertension")) == ["HTN"]
    # bob (centre B, T2DM): the district's basic package and B's diabetes package, none of A's
    assert names(api.get("bob", "/api/v1/packages")) == ["BASIC", "T2DM-B"]
    # someone else's family: 404, no data
    other = api.get("alice", f"/api/v1/packages?resident_id={world.bob}")
    assert other.status_code == 404 and world.names["bob"] not in other.get_data(as_text=True)
    # staff: what a resident may choose, and the catalogue of their institutions
    assert names(api.get("a-doc", f"/api/v1/packages?resident_id={world.grandpa}")) == ["BASIC", "ELDER", "HTN"]
    assert names(api.get("a-doc", "/api/v1/packages")) == ["BASIC", "CHILD", "ELDER", "HTN"]
    assert names(api.get("b-doc", "/api/v1/packages")) == ["BASIC", "T2DM-B"]
    assert names(api.get("admin", "/api/v1/packages")) == ["BASIC", "CHILD", "ELDER", "HTN", "T2DM-B"]
    assert names(api.get("admin", f"/api/v1/packages?institution_id={world.a1}")) == ["BASIC", "CHILD", "ELDER", "HTN"]


def test_populations_follow_the_archive_not_typed_input(api, world):
    make_packages(api, world)
    pregnancy = {
        "code": "PREG",
        "name": "孕产妇包",
        "kind": "personalized",
        "populations": ["pregnant"],
        "price": 50,
        "valid_from": "2020-01-01",
        "institution_ids": [world.a],
        "items": [{"name": "产前检查", "service_type": "prenatal_check", "times_per_year": 5}],
    }
    assert api.post("a-admin", "/api/v1/packages", json=pregnancy).status_code == 201
    assert names(api.get("alice", "/api/v1/packages")) == ["BASIC"]
    # the archive records a pregnancy → the pregnancy package becomes choosable for her
    lmp = (today() - timedelta(days=190)).isoformat()
    body = {"registered_on": today().isoformat(), "last_menstrual_on": lmp}
    assert api.post("a-doc", f"/api/v1/residents/{world.alice}/pregnancies", json=body).status_code == 201
    assert names(api.get("alice", "/api/v1/packages")) == ["BASIC", "PREG"]


def test_editing_a_signed_package_makes_a_new_version(api, world, app):
    made = make_packages(api, world)
    contract = signed(api, "a-doc", [world.grandpa], world.team_a, [made["basic"]["id"], made["htn"]["id"]])
    old_htn = made["htn"]
    edited = {
        **HTN,
        "institution_ids": [world.a],
        "price": 95,
        "items": [{"name": "高血压随访", "service_type": "chronic_followup", "times_per_year": 6}],
    }
    edited.pop("code")
    r = api.put("a-admin", f"/api/v1/packages/{old_htn['id']}", json=edited)
    assert r.status_code == 200, r.json
    new = r.json
    assert new["id"] != old_htn["id"] and new["version"] == 2 and new["previous_version_id"] == old_htn["id"]
    assert new["price"] == 95.0 and new["items"][0]["times_per_year"] == 6
    # the old version is kept as it was, superseded
    old = api.get("a-admin", f"/api/v1/packages/{old_htn['id']}").json
    assert old["status"] == "superseded" and old["price"] == 80.0 and len(old["items"]) == 2
    # the signed contract keeps the version it signed
    kept = api.get("a-doc", f"/api/v1/contracts/{contract['id']}").json
    assert [p["id"] for p in kept["packages"]] == [made["basic"]["id"], old_htn["id"]]
    assert item(kept, "chronic_followup")["total"] == 4
    # new applications see only the new version
    assert names(api.get("a-doc", f"/api/v1/packages?resident_id={world.grandpa}")) == ["BASIC", "ELDER", "HTN"]
    listed = api.get("a-doc", f"/api/v1/packages?resident_id={world.grandpa}&population=hypertension").json
    assert [p["id"] for p in listed["items"]] == [new["id"]]
    # the superseded version can neither be edited nor chosen
    assert api.put("a-admin", f"/api/v1/packages/{old_htn['id']}", json=edited).status_code == 409
    stale = apply(api, "a-doc", [world.grandpa], world.team_a, [made["basic"]["id"], old_htn["id"]])
    assert stale.status_code == 422 and "package_ids" in stale.json["errors"]
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(ServicePackage).where(ServicePackage.code == "HTN")) == 2
        )


def test_editing_an_unsigned_package_changes_it_in_place(api, world):
    made = make_packages(api, world)
    body = {**ELDERLY, "institution_ids": [world.a, world.a1], "name": "老年人健康包"}
    body.pop("code")
    r = api.put("a-admin", f"/api/v1/packages/{made['elderly']['id']}", json=body)
    assert r.status_code == 200
    assert r.json["id"] == made["elderly"]["id"] and r.json["version"] == 1 and r.json["name"] == "老年人健康包"
    assert r.json["institution_ids"] == sorted([world.a, world.a1])


def test_another_institutions_admin_cannot_edit(api, world):
    made = make_packages(api, world)
    body = {**ELDERLY, "institution_ids": [world.b]}
    body.pop("code")
    r = api.put("b-admin", f"/api/v1/packages/{made['elderly']['id']}", json=body)
    assert r.status_code == 404
