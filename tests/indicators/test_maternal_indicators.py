"""The maternal indicators and the newborn visits of 附件2's second table (早孕建册率, 孕产妇系统管理率,
产后访视率, 新生儿访视率): numerator and denominator equal a hand count over mothers and babies the test
records through the HTTP API, and the counts agree with the drill-down lists."""

from __future__ import annotations

from datetime import date, timedelta

from app.common.time import frozen
from tests.archive.helpers import add_resident
from tests.followups.helpers import DAY, morning

D = DAY  # 2026-03-10: the year's window is 1 January … 10 March
KEYS = ("early_registration", "maternal_systematic_management", "postpartum_visit", "newborn_visit")


def _post(api, path, body, day=D):
    with frozen(morning(day)):
        r = api.post("a-doc", path, json={k: str(v) if isinstance(v, date) else v for k, v in body.items()})
    assert r.status_code in (200, 201), r.json
    return r.json


def _mother(app, api, world, key, *, lmp: date, registered_weeks: int, visit_weeks=(), delivered: date | None = None,
            outcome="live_birth", discharged_days=2, home_visit_days=None, day42=False):  # fmt: skip
    """A mother whose pregnancy is registered at ``registered_weeks``, visited at ``visit_weeks`` and
    delivered on ``delivered``; ``home_visit_days`` after discharge a home visit."""
    rid = add_resident(app, world, f"mother_{key}", f"母{key}", world.a, date(1996, 1, 1), sex="female")
    registered = lmp + timedelta(weeks=registered_weeks)
    pid = _post(
        api, f"/api/v1/residents/{rid}/pregnancies", {"registered_on": registered, "last_menstrual_on": lmp}, registered
    )["id"]
    for week in visit_weeks:
        day = lmp + timedelta(weeks=week)
        _post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": day}, day)
    if delivered is None:
        return rid, None
    babies = [{"sex": "female"}] if outcome in ("live_birth", "stillbirth") else []
    if outcome == "stillbirth":
        babies = [{"sex": "female", "live": False}]
    discharged = delivered + timedelta(days=discharged_days)
    body = {"delivered_on": delivered, "discharged_on": discharged, "outcome": outcome, "babies": babies}
    born = _post(api, f"/api/v1/pregnancies/{pid}/delivery", body, discharged)
    if home_visit_days is not None:
        day = discharged + timedelta(days=home_visit_days)
        _post(api, f"/api/v1/pregnancies/{pid}/postpartum-visits", {"visit_on": day, "kind": "home_visit"}, day)
    if day42:
        _post(
            api,
            f"/api/v1/pregnancies/{pid}/postpartum-visits",
            {"visit_on": delivered + timedelta(days=42), "kind": "day42_check"},
            D,
        )
    babies = [b["resident_id"] for b in born["births"] if b["live"]]
    return rid, (babies[0] if babies else None)


def _rows(api, **query):
    with frozen(morning(D)):
        r = api.get("admin", "/api/v1/indicators", query_string={"indicator": ",".join(KEYS), **query})
    assert r.status_code == 200, r.json
    return {row["indicator"]: row for row in r.json["rows"] if row["scope"] == "total"}


def _listed(api, key, part):
    with frozen(morning(D)):
        r = api.get("admin", f"/api/v1/indicators/{key}/residents", query_string={"part": part, "per_page": 100})
    assert r.status_code == 200, r.json
    return {item["id"] for item in r.json["items"]}


def test_the_maternal_indicators_equal_a_hand_count(app, api, world):
    jan = date(2026, 1, 5)
    lmp = jan - timedelta(weeks=39)  # 2025-04-07: delivered at 39 weeks on 5 January
    # A: early (10 w), 5 visits, home visit 3 days after discharge, 42-day check → every one
    a, baby_a = _mother(app, api, world, "a", lmp=lmp, registered_weeks=10, visit_weeks=(10, 18, 22, 30, 38),
                        delivered=jan, home_visit_days=3, day42=True)  # fmt: skip
    # B: early registration, only 4 visits, home visit at 30 days after discharge → early only
    b, _ = _mother(app, api, world, "b", lmp=lmp, registered_weeks=11, visit_weeks=(11, 18, 30, 38),
                   delivered=jan, home_visit_days=30)  # fmt: skip
    # C: registered at 15 weeks (late), 5 visits, home visit within a week → postpartum only
    c, _ = _mother(app, api, world, "c", lmp=lmp, registered_weeks=15, visit_weeks=(15, 18, 22, 30, 38),
                   delivered=jan, home_visit_days=5)  # fmt: skip
    # D: registered early but first examined only at 14 weeks → not early
    d, _ = _mother(app, api, world, "d", lmp=lmp, registered_weeks=12, visit_weeks=(14, 18, 22, 30, 38),
                   delivered=jan, home_visit_days=1)  # fmt: skip
    # E: a live birth of last year, F: a stillbirth this year, G: an ongoing pregnancy → none counts
    _mother(app, api, world, "e", lmp=lmp - timedelta(weeks=8), registered_weeks=10, visit_weeks=(10,),
            delivered=date(2025, 12, 1), home_visit_days=2)  # fmt: skip
    _mother(app, api, world, "f", lmp=lmp, registered_weeks=10, visit_weeks=(10,), delivered=jan, outcome="stillbirth")
    _mother(app, api, world, "g", lmp=D - timedelta(weeks=10), registered_weeks=8, visit_weeks=(8,))
    # newborns: A's baby had the newborn visit, B's, C's, D's not; a child born last year does not count
    with frozen(morning(D)):
        r = api.post("a-doc", f"/api/v1/residents/{baby_a}/child-checks", json={"checked_on": str(jan + timedelta(days=5)), "kind": "newborn_visit"})  # fmt: skip
    assert r.status_code == 201, r.json

    rows = _rows(api)
    mothers = {a, b, c, d}
    with frozen(morning(D)):
        babies = {
            item["id"]
            for item in api.get("a-doc", "/api/v1/residents", query_string={"per_page": 100}).json["items"]
            if item["birth_on"] >= "2026-01-01"
        }
    assert len(babies) == 4 and baby_a in babies
    hand = {
        "early_registration": ({a, b}, mothers),
        "maternal_systematic_management": ({a}, mothers),
        "postpartum_visit": ({a, c, d}, mothers),
        "newborn_visit": ({baby_a}, babies),
    }
    for key, (numerator, base) in hand.items():
        row = rows[key]
        assert (row["numerator"], row["denominator"]) == (len(numerator), len(base)), (key, row)
        assert _listed(api, key, "numerator") == numerator, key
        assert _listed(api, key, "missing") == base - numerator, key
        assert row["target"] == 0.90
    assert rows["postpartum_visit"]["group"] == "maternal"
    # last year: E's live birth is the only one, registered early, one visit, visited → early and postpartum
    last = _rows(api, year="2025")
    assert [(last[k]["numerator"], last[k]["denominator"]) for k in KEYS[:3]] == [(1, 1), (0, 1), (1, 1)]
