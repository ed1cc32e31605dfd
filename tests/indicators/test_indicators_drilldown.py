"""Drill-down: the residents behind each number agree with the counts, in scope, paginated, logged."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.models import AccessLog
from app.extensions import db
from app.indicators.catalogue import BY_KEY, KEYS
from tests.indicators.helpers import Y


def _ids(api, who, key, part="numerator", **params):
    query = "&".join(f"{k}={v}" for k, v in {"year": Y, "part": part, "per_page": 100, **params}.items())
    r = api.get(who, f"/api/v1/indicators/{key}/residents?{query}")
    assert r.status_code == 200, r.json
    assert r.json["total"] == len(r.json["items"])
    return [i["id"] for i in r.json["items"]]


def test_drilldown_totals_equal_the_counts_for_every_indicator(api, world, pop, app):
    for who, institution_id in (
        ("admin", world.district),
        ("admin", world.a),
        ("a-admin", world.a1),
        ("b-doc", world.b),
    ):
        rows = {
            r["indicator"]: r
            for r in api.get("admin", f"/api/v1/indicators?year={Y}&institution_id={institution_id}").json["rows"]
            if r["scope"] == "total"
        }
        for key in KEYS:
            row = rows[key]
            numerator = _ids(api, who, key, institution_id=institution_id)
            assert len(numerator) == row["numerator"], (institution_id, key)
            if BY_KEY[key].lists_missing:
                missing = _ids(api, who, key, "missing", institution_id=institution_id)
                # the base: the denominator, or for a population-based rate the open archives (建档 numerator)
                base = row["denominator"] if BY_KEY[key].denominator == "base" else rows["ehr"]["numerator"]
                assert len(missing) == base - row["numerator"], (institution_id, key)
                assert not set(missing) & set(numerator)
            else:
                r = api.get(
                    who, f"/api/v1/indicators/{key}/residents?year={Y}&part=missing&institution_id={institution_id}"
                )
                assert r.status_code == 422 and "part" in r.json["errors"]


def test_who_is_listed(api, world, pop):
    p = pop
    assert _ids(api, "admin", "hypertension_standardised_management", "missing") == sorted(
        [world.grandpa, p.h2, p.h3]
    )  # < 4 face-to-face visits this year
    assert _ids(api, "admin", "hypertension_standardised_management") == sorted([p.e3, p.h1, p.d1])
    assert _ids(api, "admin", "hypertension_bp_control", "missing") == sorted([world.grandpa, p.h2, p.h3, p.d1])
    assert _ids(api, "admin", "t2dm_glucose_control", "missing") == [world.bob]
    assert _ids(api, "admin", "elderly_health_management", "missing") == sorted([world.grandpa, p.e2, p.e3, p.h2, p.h4])
    assert _ids(api, "admin", "signing_rate") == sorted([world.alice, world.child, world.grandpa, p.e3])
    assert _ids(api, "admin", "renewal_rate", "missing") == [p.e1]
    assert _ids(api, "admin", "satisfaction", "missing") == sorted([world.grandpa, world.bob])
    assert _ids(api, "admin", "std_ehr_coverage") == [p.e1]
    # a team, and a team leader's own team
    assert _ids(api, "a-doc", "hypertension_standardised_management", "missing", team_id=world.team_a) == sorted(
        [world.grandpa, p.h2]
    )
    assert _ids(api, "a-doc2", "hypertension_managed", team_id=world.team_a2) == [p.h3]
    # as of an earlier day
    assert _ids(api, "admin", "hypertension_managed", as_of=f"{Y}-06-30") == sorted(
        [world.grandpa, p.e3, p.h1, p.h2, p.d1]
    )


def test_items_are_masked_paginated_and_logged(api, world, pop, app):
    r = api.get("a-nurse", f"/api/v1/indicators/signing_rate/residents?year={Y}&per_page=2&page=2")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["total"], body["page"], body["per_page"], body["part"]) == (3, 2, 2, "numerator")
    assert body["institution_id"] == world.a  # default: the caller's institution
    [item] = body["items"]
    assert item["id"] == world.grandpa and item["name"] == world.names["grandpa"]
    assert item["id_number"] != world.numbers["grandpa"] and "*" in item["id_number"]
    assert item["id_number"] == world.numbers["grandpa"][:6] + "*" * 12
    assert "*" in item["phone"] and item["team_id"] == world.team_a and item["institution_id"] == world.a1
    assert set(item) == {"id", "archive_no", "name", "sex", "age", "id_number", "phone", "institution_id", "team_id"}
    with app.app_context():
        logs = db.session.execute(
            select(AccessLog.subject_resident_id, AccessLog.purpose, AccessLog.section, AccessLog.actor_display)
        ).all()
    assert logs == [(world.grandpa, "statistics", "indicators", "李护士")]


def test_scope(api, world, pop):
    base = f"/api/v1/indicators/signing_rate/residents?year={Y}"
    assert api.get("b-doc", f"{base}&institution_id={world.a}").status_code == 404
    assert api.get("b-doc", f"{base}&team_id={world.team_a}").status_code == 404
    assert api.get("a-admin", f"{base}&institution_id={world.district}").status_code == 404
    r = api.get("b-doc", f"{base}&institution_id={world.a}")
    assert "items" not in r.json and r.json["error"] == "not_found"
    assert api.get("admin", f"/api/v1/indicators/nope/residents?year={Y}").status_code == 404
    assert api.get("alice", base).status_code == 403
    assert api.get("admin", f"{base}&part=all").status_code == 422
    assert api.get("admin", f"{base}&per_page=101").status_code == 422
    # a team outside the named institution
    assert api.get("admin", f"{base}&institution_id={world.b}&team_id={world.team_a}").status_code == 404


def test_nothing_logged_for_an_empty_page(api, world, pop, app):
    r = api.get("admin", f"/api/v1/indicators/signing_rate_pregnant/residents?year={Y}")
    assert r.json["total"] == 0 and r.json["items"] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 0
