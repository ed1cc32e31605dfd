"""Every indicator on a hand-built population (tests/indicators/helpers.py): numerators and
denominators exactly, for the district, each child and each team, month by month; targets; scope."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from app.indicators.catalogue import KEYS
from tests.indicators import helpers as h
from tests.indicators.helpers import TARGETS_CSV, D, Y


def _load_targets(app, year=Y):
    from app.indicators.targets import import_csv

    with app.app_context():
        import_csv(TARGETS_CSV, year)
        db.session.commit()


def _rows(response, scope="total", institution_id=None, team_id=None):
    assert response.status_code == 200, response.json
    found = {}
    for r in response.json["rows"]:
        if r["scope"] != scope:
            continue
        if institution_id is not None and r["institution_id"] != institution_id:
            continue
        if team_id is not None and r["team_id"] != team_id:
            continue
        found[r["indicator"]] = r
    return found


def _nd(rows):
    return {k: (r["numerator"], r["denominator"]) for k, r in rows.items()}


# numerator, denominator on D for the district, centre A's subtree and centre B (targets loaded)
EXPECTED = {
    "ehr": ((12, 20000), (9, 10000), (3, 10000)),
    "std_ehr_coverage": ((1, 20000), (1, 10000), (0, 10000)),
    "ehr_dynamic_use": ((7, 12), (5, 9), (2, 3)),
    "elderly_health_management": ((1, 6), (1, 4), (0, 2)),
    "elderly_tcm": ((1, 6), (1, 4), (0, 2)),
    "hypertension_managed": ((6, 9), (5, 5), (1, 4)),
    "hypertension_standardised_management": ((3, 6), (2, 5), (1, 1)),
    "hypertension_bp_control": ((2, 6), (1, 5), (1, 1)),
    "t2dm_managed": ((2, 3), (1, 2), (1, 1)),
    "t2dm_standardised_management": ((1, 2), (1, 1), (0, 1)),
    "t2dm_glucose_control": ((1, 2), (1, 1), (0, 1)),
    "signing_rate": ((4, 12), (3, 9), (1, 3)),
    "signing_rate_elderly": ((2, 6), (1, 4), (1, 2)),
    "signing_rate_hypertension": ((2, 6), (1, 5), (1, 1)),
    "signing_rate_t2dm": ((0, 2), (0, 1), (0, 1)),
    "signing_rate_children_0_6": ((1, 1), (1, 1), (0, 0)),
    "signing_rate_pregnant": ((0, 0), (0, 0), (0, 0)),
    "signing_rate_disabled": ((0, 0), (0, 0), (0, 0)),
    "signing_rate_poverty_alleviated": ((0, 0), (0, 0), (0, 0)),
    "signing_rate_special_family": ((0, 0), (0, 0), (0, 0)),
    "family_signing_rate": ((1, 11), (1, 8), (0, 3)),
    "renewal_rate": ((1, 2), (1, 2), (0, 0)),
    "satisfaction": ((1, 3), (1, 2), (0, 1)),
    "awareness": ((2, 2), (2, 2), (0, 0)),
}


def test_every_indicator_on_a_hand_built_population(api, world, pop, app):
    _load_targets(app)
    r = api.get("admin", f"/api/v1/indicators?year={Y}")
    assert r.status_code == 200, r.json
    assert r.json["institution_id"] == world.district and r.json["as_of"] == D.isoformat() and r.json["year"] == Y
    total = _rows(r)
    assert list(total) == list(KEYS)  # every definition, in order
    a, b = _rows(r, "child", world.a), _rows(r, "child", world.b)
    for key, (t, in_a, in_b) in EXPECTED.items():
        assert (_nd(total)[key], _nd(a)[key], _nd(b)[key]) == (t, in_a, in_b), key
    # the district's own residents: none (no "direct" row); children ordered by code
    assert not _rows(r, "direct")
    assert [row["institution_id"] for row in r.json["rows"] if row["indicator"] == "ehr"] == [
        world.district,
        world.a,
        world.b,
    ]
    # rates, targets, met
    htn = total["hypertension_managed"]
    assert (htn["rate"], htn["target"], htn["target_count"], htn["met"]) == (0.6667, 1.0, 9, False)
    assert (a["hypertension_managed"]["rate"], a["hypertension_managed"]["met"]) == (1.0, True)
    assert (b["t2dm_managed"]["target_count"], b["t2dm_managed"]["rate"], b["t2dm_managed"]["met"]) == (1, 1.0, True)
    assert total["ehr"]["target"] == 0.9 and total["ehr"]["target_count"] == 18000  # 9000 + 9000 (centres)
    assert a["ehr"]["target_count"] == 9000 and a["ehr"]["rate"] == 0.0009
    assert (
        total["hypertension_standardised_management"]["rate"],
        total["hypertension_standardised_management"]["target"],
        total["hypertension_standardised_management"]["met"],
    ) == (0.5, 0.64, False)
    assert (b["hypertension_standardised_management"]["rate"], b["hypertension_standardised_management"]["met"]) == (
        1.0,
        True,
    )
    assert (total["hypertension_bp_control"]["target"], total["t2dm_glucose_control"]["target"]) == (0.45, 0.35)
    assert (total["t2dm_glucose_control"]["rate"], total["t2dm_glucose_control"]["met"]) == (0.5, True)
    assert total["signing_rate_pregnant"]["rate"] is None and total["signing_rate_pregnant"]["met"] is None
    assert (total["awareness"]["rate"], total["awareness"]["met"]) == (1.0, True)
    # signing target: last year's rate (on D − 1 year: 2 signed of 13 open archives, 'gone' still open) + 3 pp
    assert total["signing_rate"]["target"] == round(round(2 / 13, 4) + 0.03, 4)
    assert a["signing_rate"]["target"] == 0.23  # 2 of 10
    assert b["signing_rate"]["target"] == 0.03  # 0 of 3
    assert total["family_signing_rate"]["target"] == 0.2 and total["renewal_rate"]["target"] == 0.8


def test_centre_subtree_has_own_and_station_rows(api, world, pop, app):
    _load_targets(app)
    r = api.get("a-admin", f"/api/v1/indicators?year={Y}")
    assert r.json["institution_id"] == world.a
    total, own, station = _rows(r), _rows(r, "direct", world.a), _rows(r, "child", world.a1)
    for key, (_, in_a, _) in EXPECTED.items():
        assert _nd(total)[key] == in_a, key
        # the subtree adds up: own residents + the station's
        if key not in ("ehr", "std_ehr_coverage", "hypertension_managed", "t2dm_managed"):
            assert tuple(map(sum, zip(_nd(own)[key], _nd(station)[key]))) == in_a, key
        else:
            assert own[key]["numerator"] + station[key]["numerator"] == in_a[0], key
    # at the station: grandpa, e2, h2
    assert _nd(station)["elderly_health_management"] == (0, 3)
    assert _nd(station)["hypertension_standardised_management"] == (0, 2)
    assert station["ehr"]["denominator"] == 10000  # its own declared population
    assert own["ehr"]["denominator"] is None and own["hypertension_managed"]["target_count"] is None


def test_team_rows(api, world, pop):
    r = api.get("a-admin", f"/api/v1/indicators?year={Y}&by=team")
    assert r.status_code == 200, r.json
    team_a, team_a2 = _rows(r, "team", team_id=world.team_a), _rows(r, "team", team_id=world.team_a2)
    assert _nd(team_a)["hypertension_standardised_management"] == (2, 4)  # grandpa, h1, h2, d1
    assert _nd(team_a2)["hypertension_standardised_management"] == (0, 1)  # h3
    assert _nd(team_a)["signing_rate"] == (3, 7)  # alice, child, grandpa of those + e1, h1, h2, d1
    assert team_a["signing_rate"]["target"] is not None
    assert _nd(_rows(r))["signing_rate"] == (3, 9)  # the subtree total comes first
    assert not _rows(r, "team", team_id=world.team_b)  # another centre's team is not listed
    # one team
    r = api.get("a-doc", f"/api/v1/indicators?year={Y}&team_id={world.team_a}&indicator=signing_rate,ehr_dynamic_use")
    rows = _rows(r, "team")
    assert list(rows) == ["ehr_dynamic_use", "signing_rate"]
    assert _nd(rows) == {"ehr_dynamic_use": (4, 7), "signing_rate": (3, 7)}
    assert rows["signing_rate"]["team_name"] == "鲸园一队"


def test_month_by_month(api, world, pop, app):
    _load_targets(app)
    r = api.get(
        "admin",
        f"/api/v1/indicators?year={Y}&by=month"
        "&indicator=ehr,elderly_health_management,hypertension_managed,signing_rate",
    )
    assert r.status_code == 200, r.json
    series = {s["indicator"]: s for s in r.json["series"]}
    assert [p["as_of"] for p in series["ehr"]["points"]] == [
        date(Y, m, d).isoformat()
        for m, d in ((1, 31), (2, 28 if Y % 4 else 29), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30))
    ]
    ehr = [p["numerator"] for p in series["ehr"]["points"]]
    assert ehr == [13] * 7 + [12, 12]  # 'gone' moved away on 15 August
    elderly = [(p["numerator"], p["denominator"]) for p in series["elderly_health_management"]["points"]]
    assert elderly == [(0, 6), (0, 6), (1, 6), (1, 6), (1, 6), (2, 6), (2, 7), (1, 6), (1, 6)]
    managed = series["hypertension_managed"]
    assert [p["numerator"] for p in managed["points"]] == [5] * 6 + [6] * 3  # h3 from 1 July
    assert managed["target_count"] == 9 and managed["points"][-1]["rate"] == 0.6667
    # the last point is the row of the plain report
    plain = _rows(api.get("admin", f"/api/v1/indicators?year={Y}"))
    for key, s in series.items():
        last = s["points"][-1]
        assert (last["numerator"], last["denominator"], last["rate"]) == (
            plain[key]["numerator"],
            plain[key]["denominator"],
            plain[key]["rate"],
        ), key
        assert s["target"] == plain[key]["target"]
    # with as_of in the middle of a month: the last point is that day
    r = api.get("admin", f"/api/v1/indicators?year={Y}&by=month&as_of={Y}-03-15&indicator=ehr")
    assert [p["as_of"] for p in r.json["series"][0]["points"]][-1] == f"{Y}-03-15"
    assert len(r.json["series"][0]["points"]) == 3


def test_as_of_and_year(api, world, pop):
    # before 1 July h3 is not yet diagnosed
    r = api.get("admin", f"/api/v1/indicators?year={Y}&as_of={Y}-06-30&indicator=hypertension_standardised_management")
    # nobody has 4 face-to-face visits yet (e3, h1 and d1 have 3)
    assert _nd(_rows(r)) == {"hypertension_standardised_management": (0, 5)}
    # a past year ends on 31 December; an as_of outside the year is refused
    r = api.get("admin", f"/api/v1/indicators?year={Y - 1}&indicator=signing_rate")
    assert r.json["as_of"] == f"{Y - 1}-12-31"
    r = api.get("admin", f"/api/v1/indicators?year={Y}&as_of={Y + 1}-01-01")
    assert r.status_code == 422 and "as_of" in r.json["errors"]
    r = api.get("admin", "/api/v1/indicators?indicator=nope")
    assert r.status_code == 422 and "indicator" in r.json["errors"]
    r = api.get("admin", "/api/v1/indicators?by=week")
    assert r.status_code == 422 and "by" in r.json["errors"]
    # default: this year (the frozen clock: D's year), as of today
    r = api.get("admin", "/api/v1/indicators?indicator=ehr")
    assert (r.json["year"], r.json["as_of"]) == (Y, D.isoformat())


def test_scope_and_roles(api, world, pop):
    assert api.get("b-admin", f"/api/v1/indicators?institution_id={world.a}").status_code == 404
    assert api.get("a-admin", f"/api/v1/indicators?team_id={world.team_b}").status_code == 404
    assert api.get("a-admin", f"/api/v1/indicators?institution_id={world.district}").status_code == 404
    assert api.get("a-admin", "/api/v1/indicators?institution_id=999999").status_code == 404
    assert api.get("a-nurse", "/api/v1/indicators").status_code == 403  # a doctor, not a leader or admin
    assert api.get("alice", "/api/v1/indicators").status_code == 403
    # a team leader sees their institution's subtree
    r = api.get("a-doc", f"/api/v1/indicators?year={Y}&indicator=signing_rate")
    assert r.status_code == 200 and _nd(_rows(r)) == {"signing_rate": (3, 9)}
    for path in ("/api/v1/indicators.xlsx", "/api/v1/indicators.csv", "/api/v1/indicators/chart.png"):
        assert api.get("b-admin", f"{path}?institution_id={world.a}").status_code == 404, path
        assert api.get("a-nurse", path).status_code == 403, path


def test_definitions_endpoint_and_docs(api, world):
    r = api.get("a-nurse", "/api/v1/indicators/definitions")
    assert r.status_code == 200
    assert [d["key"] for d in r.json] == list(KEYS)
    hsm = next(d for d in r.json if d["key"] == "hypertension_standardised_management")
    assert "≥ 4 face-to-face" in hsm["numerator"] and hsm["drilldown_parts"] == ["numerator", "missing"]
    from pathlib import Path

    from app.indicators.catalogue import BY_KEY, markdown_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert markdown_table() in doc  # the table is generated from the Definition objects
    for key in KEYS:
        assert f"`{key}`" in doc and BY_KEY[key].label in doc, key


def test_month_ends_from_the_nightly_snapshots(api, world, pop, app):
    from app.indicators.jobs import closed_month_ends, snapshot_month_ends

    url = f"/api/v1/indicators?year={Y}&by=month"
    scopes = [
        ("admin", ""),
        ("a-admin", f"&institution_id={world.a}"),
        ("a-admin", f"&institution_id={world.a1}"),
        ("b-admin", ""),
        ("a-admin", f"&team_id={world.team_a}"),
        ("b-doc", f"&team_id={world.team_b}"),
    ]
    live = [api.get(who, url + extra).json["series"] for who, extra in scopes]
    with app.app_context():
        assert closed_month_ends(D)[0] == date(Y - 1, 8, 31) and closed_month_ends(D)[-1] == date(Y, 8, 31)
        first = snapshot_month_ends()
        assert first["days"] == 13 and first["written"] > 0 and first["unchanged"] == 0
        assert snapshot_month_ends() == {"days": 13, "written": 0, "unchanged": first["written"]}  # idempotent
    # the same series, read from the snapshots
    assert [api.get(who, url + extra).json["series"] for who, extra in scopes] == live
    # a check recorded late for March: the stored March point is stale until the next night
    with app.app_context():
        h.health_check(pop.e2, world.a1, date(Y, 3, 20))
        db.session.commit()
    series = {s["indicator"]: s for s in api.get("admin", url).json["series"]}
    assert [p["numerator"] for p in series["elderly_health_management"]["points"]] == [
        0,
        0,
        1,
        1,
        1,
        2,
        2,
        1,
        2,
    ]  # today's point is live
    with app.app_context():
        assert snapshot_month_ends()["written"] > 0
    series = {s["indicator"]: s for s in api.get("admin", url).json["series"]}
    assert [p["numerator"] for p in series["elderly_health_management"]["points"]] == [0, 0, 2, 2, 2, 3, 3, 2, 2]
