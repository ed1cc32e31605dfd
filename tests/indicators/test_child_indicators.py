"""The children's indicators of 附件2's second table (7岁以下儿童健康管理率, 0-6岁儿童眼保健和视力检查
覆盖率, 3岁以下儿童系统管理率, 儿童中医药健康管理率): numerator and denominator equal a hand count over
children the test builds, the counts agree with the drill-down lists, and the district table's target
applies."""

from __future__ import annotations

from datetime import timedelta

from app.common.time import frozen
from tests.archive.helpers import add_resident
from tests.followups.helpers import DAY, morning

D = DAY  # 2026-03-10: the year's window is 1 January … 10 March
KEYS = ("under7_health_management", "child_eye_check", "under3_systematic_management", "child_tcm")


def _child(app, world, key: str, days_old: int) -> int:
    return add_resident(app, world, key, f"童{key}", world.a, D - timedelta(days=days_old), household_id=world.home)


def _check(api, rid, at_age: int, days_old: int, **fields):
    day = D - timedelta(days=days_old - at_age)
    with frozen(morning(D)):
        r = api.post("a-doc", f"/api/v1/residents/{rid}/child-checks", json={"checked_on": str(day), **fields})
    assert r.status_code == 201, r.json


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


def test_the_childrens_indicators_equal_a_hand_count(app, api, world):
    # B: 3-month check due (window closed 24 Feb) and done  → checked this year, managed
    b = _child(app, world, "b", 120)
    _check(api, b, 100, 120)
    # C: 3-month check due (closed 22 Feb), not done       → not checked, not managed
    c = _child(app, world, "c", 125)
    # D: 6-month check due (closed 7 Mar), done with eye check and TCM guidance
    d = _child(app, world, "d", 200)
    _check(api, d, 190, 200, eye_check={"result": "normal"}, tcm_guidance=["diet"])
    # E: nothing due yet this year (6-month window closes in two days)  → managed, TCM given
    e = _child(app, world, "e", 195)
    # F: 6-month check due and done, without TCM guidance  → managed, not TCM
    f = _child(app, world, "f", 205)
    _check(api, f, 170, 205)
    five = world.child  # 5 years old: 0–6 but not under 3; no check this year

    rows = _rows(api)
    hand = {
        "under7_health_management": ({b, d, f}, {b, c, d, e, f, five}),
        "child_eye_check": ({d}, {b, c, d, e, f, five}),
        "under3_systematic_management": ({b, d, e, f}, {b, c, d, e, f}),
        "child_tcm": ({b, c, d, e}, {b, c, d, e, f}),
    }
    for key, (numerator, base) in hand.items():
        row = rows[key]
        assert (row["numerator"], row["denominator"]) == (len(numerator), len(base)), key
        assert _listed(api, key, "numerator") == numerator, key
        assert _listed(api, key, "missing") == base - numerator, key
        assert row["group"] == "children"
    assert rows["under3_systematic_management"]["target"] == 0.80
    assert rows["child_tcm"]["target"] == 0.84

    # a past day is evaluated as it was: on 18 February no child's due window had closed yet
    earlier = _rows(api, as_of=str(D - timedelta(days=20)))["under3_systematic_management"]
    assert (earlier["numerator"], earlier["denominator"]) == (5, 5)
