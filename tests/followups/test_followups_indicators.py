"""Indicators on a hand-built population: exact numerators and denominators."""

from __future__ import annotations

from datetime import date

import pytest

from app.common.time import frozen
from app.extensions import db
from app.indicators.views import chronic_rows as indicator_rows
from tests.followups.helpers import make_resident, morning, set_condition_active, visit_ok

TODAY = date(2026, 11, 20)
BP_OK, BP_HIGH = {"sbp": 128, "dbp": 80}, {"sbp": 150, "dbp": 95}


def dates(*month_days, year=2026):
    return [date(year, m, d) for m, d in month_days]


FOUR = dates((2, 10), (5, 12), (8, 14), (11, 3))


@pytest.fixture
def population(app, api, world):
    """Hypertension (h*), T2DM (t*) and both (b1); comments give what each contributes in 2026."""
    ids = {}

    def person(key, diseases, institution=None, team=None):
        ids[key] = make_resident(app, key, institution or world.a, team or world.team_a, diseases=diseases)
        return ids[key]

    def visits(key, disease, days, last=None, methods=None, **values):
        for n, day in enumerate(days):
            extra = dict(values)
            if n == len(days) - 1 and last is not None:
                extra.update(last)
            method = (methods or {}).get(n, "clinic")
            visit_ok(api, "a-doc2" if key == "h5" else "a-doc", ids[key], disease, day, method=method, **extra)

    with frozen(morning(TODAY)):
        person("h1", ["hypertension"])
        visits("h1", "hypertension", FOUR, **BP_OK)  # std, controlled
        person("h2", ["hypertension"])
        visits(
            "h2", "hypertension", FOUR, last=BP_HIGH, methods={1: "home"}, **BP_OK
        )  # std (home counts), not controlled
        person("h3", ["hypertension"])  # 3 face to face + 1 phone: not std; latest face-to-face high
        visits("h3", "hypertension", dates((2, 1), (5, 1), (8, 1)), last=BP_HIGH, **BP_OK)
        visit_ok(api, "a-doc", ids["h3"], "hypertension", date(2026, 10, 1), method="phone", **BP_OK)
        person("h4", ["hypertension"])  # only last year's visits
        visits("h4", "hypertension", dates((1, 5), (3, 5), (6, 5), (9, 5), (12, 5), year=2025), **BP_OK)
        person("h5", ["hypertension"], team=world.team_a2)  # one visit, controlled
        visits("h5", "hypertension", dates((9, 9)), **BP_OK)
        person("h6", ["hypertension"], institution=world.a1)  # at the clinic under A: std, controlled
        visits("h6", "hypertension", FOUR, **BP_OK)
        person("h7", ["hypertension"])
        visits("h7", "hypertension", FOUR, **BP_OK)  # moves away today
        person("h8", ["hypertension"])
        visits("h8", "hypertension", FOUR, **BP_OK)  # diagnosis deactivated
        person("t1", ["t2dm"])
        visits("t1", "t2dm", FOUR, fasting_glucose=6.5)  # std, controlled
        person("t2", ["t2dm"])
        visits("t2", "t2dm", dates((4, 4), (10, 10)), fasting_glucose=5.8)  # controlled
        person("b1", ["hypertension", "t2dm"])  # combined: HTN std + controlled; T2DM std, not controlled
        visits("b1", "both", FOUR, last={"sbp": 132, "dbp": 82, "fasting_glucose": 7.4}, fasting_glucose=6.2, **BP_OK)
        assert api.patch("a-doc", f"/api/v1/residents/{ids['h7']}", json={"status": "moved"}).status_code == 200
    set_condition_active(app, ids["h8"], "hypertension", False)
    return ids


def table(rows, key):
    return {(r[key], r["indicator"]): (r["numerator"], r["denominator"], r["rate"]) for r in rows}


def test_institution_subtree_numerators_and_denominators(api, world, population):
    with frozen(morning(TODAY)):
        r = api.get("a-admin", f"/api/v1/followups/indicators?year=2026&institution_id={world.a}")
    assert r.status_code == 200, r.json
    got = table(r.json, "institution_id")
    a = world.a
    # HTN managed: h1 h2 h3 h4 h5 h6 b1 + grandpa (no visits) = 8
    assert got[(a, "hypertension_managed")] == (8, None, None)
    assert got[(a, "hypertension_standardised_management")] == (4, 8, 0.5)  # h1 h2 h6 b1
    assert got[(a, "hypertension_bp_control")] == (4, 8, 0.5)  # h1 h5 h6 b1
    assert got[(a, "t2dm_managed")] == (3, None, None)  # t1 t2 b1
    assert got[(a, "t2dm_standardised_management")] == (2, 3, 0.6667)  # t1 b1
    assert got[(a, "t2dm_glucose_control")] == (2, 3, 0.6667)  # t1 t2
    met = {row["indicator"]: row["met"] for row in r.json}
    assert met["hypertension_standardised_management"] is False and met["t2dm_glucose_control"] is True


def test_district_and_sibling_scopes(api, world, population):
    with frozen(morning(TODAY)):
        district = api.get("admin", f"/api/v1/followups/indicators?year=2026&institution_id={world.district}").json
        b = api.get("b-admin", "/api/v1/followups/indicators?year=2026").json
        assert api.get("b-admin", f"/api/v1/followups/indicators?institution_id={world.a}").status_code == 404
        assert api.get("a-nurse", "/api/v1/followups/indicators").status_code == 403
    got = table(district, "institution_id")
    assert got[(world.district, "hypertension_managed")][0] == 8
    assert got[(world.district, "t2dm_managed")][0] == 4  # + bob in centre B
    assert got[(world.district, "t2dm_standardised_management")] == (2, 4, 0.5)
    got_b = table(b, "institution_id")
    assert got_b[(world.b, "t2dm_managed")] == (1, None, None)
    assert got_b[(world.b, "t2dm_glucose_control")] == (0, 1, 0.0)
    assert got_b[(world.b, "hypertension_standardised_management")] == (0, 0, None)


def test_team_scope(api, world, population):
    with frozen(morning(TODAY)):
        team_a = api.get("a-doc", f"/api/v1/followups/indicators?year=2026&team_id={world.team_a}").json
        team_a2 = api.get("a-doc2", f"/api/v1/followups/indicators?year=2026&team_id={world.team_a2}").json
        assert api.get("b-doc", f"/api/v1/followups/indicators?team_id={world.team_a}").status_code == 404
    got = table(team_a, "team_id")
    assert got[(world.team_a, "hypertension_managed")][0] == 7
    assert got[(world.team_a, "hypertension_standardised_management")][:2] == (4, 7)
    assert got[(world.team_a, "hypertension_bp_control")][:2] == (3, 7)
    got2 = table(team_a2, "team_id")
    assert got2[(world.team_a2, "hypertension_managed")][0] == 1
    assert got2[(world.team_a2, "hypertension_bp_control")] == (1, 1, 1.0)
    assert got2[(world.team_a2, "hypertension_standardised_management")] == (0, 1, 0.0)


def test_a_past_year_is_evaluated_as_of_its_last_day(api, world, population):
    with frozen(morning(TODAY)):
        rows = api.get("a-admin", f"/api/v1/followups/indicators?year=2025&institution_id={world.a}").json
    got = table(rows, "institution_id")
    # h7 moved away in 2026, so was managed on 2025-12-31; h8's diagnosis is inactive (no history kept)
    assert got[(world.a, "hypertension_managed")][0] == 9
    assert got[(world.a, "hypertension_standardised_management")][:2] == (1, 9)  # h4
    assert got[(world.a, "hypertension_bp_control")][:2] == (1, 9)  # h4


def test_targets_come_from_the_indicators_targets_table(api, app, world, population):
    """The task counts (应管人数) and rates are the indicators feature's targets: the table, else the defaults."""
    for body in (
        {"indicator": "hypertension_managed", "target_count": 10},
        {"indicator": "t2dm_managed", "target_count": 3},
        {"indicator": "hypertension_standardised_management", "target_rate": 0.5},
    ):
        r = api.put("admin", "/api/v1/indicators/targets", json={"institution_id": world.a, "year": 2026, **body})
        assert r.status_code == 200, r.json
    with frozen(morning(TODAY)):
        r = api.get("a-admin", f"/api/v1/followups/indicators?year=2026&institution_id={world.a}")
        team = api.get("a-doc2", f"/api/v1/followups/indicators?year=2026&team_id={world.team_a2}").json
    assert r.status_code == 200, r.json
    got = {
        row["indicator"]: (row["numerator"], row["denominator"], row["rate"], row["target"], row["met"])
        for row in r.json
    }
    assert got["hypertension_managed"] == (8, 10, 0.8, 1.0, False)
    assert got["t2dm_managed"] == (3, 3, 1.0, 1.0, True)
    assert got["hypertension_standardised_management"] == (4, 8, 0.5, 0.5, True)  # the table's rate
    assert got["hypertension_bp_control"][3:] == (0.45, True)  # the default
    # a team has no task count; its rates' targets are its institution's
    got_team = {row["indicator"]: (row["numerator"], row["denominator"], row["target"]) for row in team}
    assert got_team["hypertension_managed"] == (1, None, 1.0)
    assert got_team["hypertension_standardised_management"] == (0, 1, 0.5)
    # the service function: several subtrees, in the order given
    with frozen(morning(TODAY)), app.app_context():
        rows = indicator_rows(2026, institution_ids=[world.b, world.a])
        db.session.rollback()
    assert [r["institution_id"] for r in rows] == [world.b] * 6 + [world.a] * 6
    assert [r["indicator"] for r in rows[:6]] == [
        "hypertension_managed",
        "hypertension_standardised_management",
        "hypertension_bp_control",
        "t2dm_managed",
        "t2dm_standardised_management",
        "t2dm_glucose_control",
    ]
    got = table(rows, "institution_id")
    assert got[(world.a, "hypertension_managed")] == (8, 10, 0.8)
    assert got[(world.b, "t2dm_managed")] == (1, None, None)
