"""Helpers for the contracts tests: packages through the API, family grants, applying and signing."""

from __future__ import annotations

from datetime import date, timedelta

from app.common.time import at_local

BASIC = {
    "code": "BASIC",
    "name": "基础服务包",
    "kind": "basic",
    "price": 0,
    "valid_from": "2020-01-01",
    "items": [
        {"name": "年度健康评估", "service_type": "health_check", "times_per_year": 1},
        {"name": "健康咨询", "service_type": "consultation", "times_per_year": 4},
    ],
}
ELDERLY = {
    "code": "ELDER",
    "name": "老年人个性化包",
    "kind": "personalized",
    "populations": ["elderly"],
    "price": 120,
    "public_health_subsidy": 20,
    "valid_from": "2020-01-01",
    "items": [
        {"name": "中医体质辨识", "service_type": "tcm_guidance", "times_per_year": 1},
        {"name": "上门随访", "service_type": "home_visit", "times_per_year": 2},
    ],
}
HTN = {
    "code": "HTN",
    "name": "高血压管理包",
    "kind": "personalized",
    "populations": ["hypertension"],
    "price": 80,
    "valid_from": "2020-01-01",
    "items": [
        {"name": "高血压随访", "service_type": "chronic_followup", "times_per_year": 4},
        {"name": "血脂检测", "service_type": "lab_test", "times_per_year": 1},
    ],
}
CHILD = {
    "code": "CHILD",
    "name": "儿童健康包",
    "kind": "personalized",
    "populations": ["children_0_6"],
    "price": 60,
    "valid_from": "2020-01-01",
    "items": [{"name": "儿童健康检查", "service_type": "child_health_check", "times_per_year": 2}],
}
T2DM = {
    "code": "T2DM-B",
    "name": "糖尿病管理包",
    "kind": "personalized",
    "populations": ["t2dm"],
    "price": 90,
    "valid_from": "2020-01-01",
    "items": [{"name": "糖尿病随访", "service_type": "chronic_followup", "times_per_year": 4}],
}


def make_packages(api, world) -> dict:
    """basic (district-wide), elderly / hypertension / children (centre A), T2DM (centre B)."""
    made = {}
    for key, who, body, institutions in (
        ("basic", "admin", BASIC, [world.district]),
        ("elderly", "a-admin", ELDERLY, [world.a]),
        ("htn", "a-admin", HTN, [world.a]),
        ("child", "a-admin", CHILD, [world.a]),
        ("t2dm", "b-admin", T2DM, [world.b]),
    ):
        r = api.post(who, "/api/v1/packages", json={**body, "institution_ids": institutions})
        assert r.status_code == 201, r.json
        made[key] = r.json
    return made


def grant(monkeypatch, mapping: dict) -> None:
    """Family grants without the family feature: {account's resident id: [resident ids it may act for]}."""
    from app.access import family_hooks

    def hook(actor):
        return list(mapping.get(actor.resident_id, []))

    monkeypatch.setattr(family_hooks, "GRANTED", [hook])


def apply(api, who, resident_ids, team_id, package_ids, **extra):
    return api.post(
        who,
        "/api/v1/contracts",
        json={"resident_ids": resident_ids, "team_id": team_id, "package_ids": package_ids, "consent": True, **extra},
    )


def signed(api, who, resident_ids, team_id, package_ids, signer="a-doc", **extra) -> dict:
    r = apply(api, who, resident_ids, team_id, package_ids, **extra)
    assert r.status_code == 201, r.json
    s = api.post(signer, f"/api/v1/contracts/{r.json['id']}/sign", json={})
    assert s.status_code == 200, s.json
    return s.json


def item(contract: dict, service_type: str) -> dict:
    return next(i for i in contract["items"] if i["service_type"] == service_type)


def one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:
        return date(day.year + 1, 2, 28)


def noon(day: date):
    """An instant in the middle of a local day (for ``frozen``)."""
    return at_local(day, 12)
