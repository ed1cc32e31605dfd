"""The archive: entering health checks, service records and diagnoses; the one-call view."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.archive.models import HealthCheck, ServiceRecord
from app.audit.models import AccessLog
from app.common.time import at_local, frozen
from app.extensions import db
from app.residents.models import Condition
from tests.archive.helpers import (
    add_resident,
    check,
    counting_queries,
    fresh_id_sequence,  # noqa: F401  (autouse)
    log_rows,
    record,
)

SECTIONS = [
    "basic_info",
    "populations",
    "conditions",
    "health_checks",
    "pregnancies",
    "child_checks",
    "followups",
    "referrals",  # "contacts" (the staff's calls and notes) is for staff only
    "service_records",
    "contract",
]


@pytest.fixture
def june_2025():
    with frozen(at_local(date(2025, 6, 15), 10)):
        yield date(2025, 6, 15)


def archive(api, who, rid, **params):
    return api.get(who, f"/api/v1/residents/{rid}/archive", query_string=params)


def test_resident_reads_own_archive(api, world, app, june_2025):
    made = check(
        api,
        "a-doc",
        world.alice,
        "2025-03-01",
        sbp=128,
        dbp=82,
        height_cm=162,
        weight_kg=58.5,
        waist_cm=76,
        heart_rate=72,
        fasting_glucose=5.4,
        lifestyle={"smoking": "never"},
        assessment="abnormal",
        abnormalities=["血脂偏高"],
        guidance=["recheck"],
    )
    assert made["bmi"] == 22.3 and made["doctor"] == "王医生"
    assert made["institution"] == {"id": world.a, "name": "鲸园社区卫生服务中心"}
    record(api, "a-nurse", world.alice, "consultation", "2025-04-02", summary="感冒", sbp=120, dbp=80)

    r = archive(api, "alice", world.alice)
    assert r.status_code == 200, r.json
    body = r.json
    assert list(body) == SECTIONS
    info = body["basic_info"]
    assert info["name"] == "张丽" and info["phone"] == "13812345678"
    number = world.numbers["alice"]
    assert info["id_number"] == number  # the resident's own sheet: in full (staff and family see it masked)
    assert body["populations"] == [] and body["conditions"] == []
    checks = body["health_checks"]
    assert (checks["total"], checks["page"], checks["per_page"], checks["comparison"]) == (1, 1, 10, None)
    item = checks["items"][0]
    assert (item["checked_on"], item["sbp"], item["dbp"], item["bmi"], item["fasting_glucose"]) == (
        "2025-03-01",
        128,
        82,
        22.3,
        5.4,
    )
    assert item["lifestyle"] == {"smoking": "never"} and item["abnormalities"] == ["血脂偏高"]
    records = body["service_records"]
    assert records["total"] == 1
    assert (records["items"][0]["kind"], records["items"][0]["doctor"], records["items"][0]["summary"]) == (
        "consultation",
        "李护士",
        "感冒",
    )
    assert body["contract"] is None  # no contract; "followups" belongs to the follow-up feature

    reads = log_rows(app, world.alice, action="read")
    assert [(x.actor_kind, x.actor_display, x.institution_id, x.section, x.purpose) for x in reads] == [
        ("resident", "本人", None, "archive", "self_access")
    ]
    creates = log_rows(app, world.alice, action="create")
    assert [(x.actor_display, x.section, x.purpose) for x in creates] == [
        ("王医生", "health_check", "care"),
        ("李护士", "service_record:consultation", "care"),
    ]


def test_staff_in_scope_read_with_purpose_and_masking(api, world, app):
    r = archive(api, "a-doc", world.grandpa, purpose="follow_up")
    assert r.status_code == 200
    assert r.json["basic_info"]["phone"] == "138****5678"
    assert r.json["populations"] == ["elderly", "hypertension"]
    assert [(c["disease"], c["diagnosed_on"], c["active"]) for c in r.json["conditions"]] == [
        ("hypertension", "2020-01-01", True)
    ]
    # the district admin sees every archive; its default purpose is care
    assert archive(api, "admin", world.grandpa).status_code == 200
    rows = log_rows(app, world.grandpa, action="read")
    assert [(x.actor_kind, x.actor_display, x.institution_id, x.purpose) for x in rows] == [
        ("staff", "王医生", world.a, "follow_up"),
        ("staff", "区管理员", world.district, "care"),
    ]
    # a resident cannot claim a staff purpose, and nobody can invent one
    assert archive(api, "a-doc", world.grandpa, purpose="self_access").status_code == 422
    assert archive(api, "a-doc", world.grandpa, purpose="curiosity").status_code == 422


@pytest.mark.parametrize("who", ["b-doc", "b-admin", "bob"])
def test_out_of_scope_is_404_without_personal_data(api, world, app, who):
    check(api, "a-doc", world.alice, "2025-01-10", sbp=130, dbp=85)
    for path in ("archive", "archive/fhir", "archive/access-log"):
        r = api.get(who, f"/api/v1/residents/{world.alice}/{path}")
        assert r.status_code == 404, path
        text = r.get_data(as_text=True)
        assert world.names["alice"] not in text and "138" not in text and "130" not in text
        assert r.json["error"] == "not_found"
    # nothing was logged as read, and nobody outside scope can write either
    assert log_rows(app, world.alice, action="read") == []
    if who != "bob":
        bad = api.post(who, f"/api/v1/residents/{world.alice}/health-checks", json={"checked_on": "2025-01-11"})
        assert bad.status_code in (403, 404)


def test_unknown_archive_is_404(api, world):
    assert archive(api, "admin", 999999).status_code == 404


@pytest.mark.parametrize(
    "change, field",
    [
        ({"sbp": 400, "dbp": 90}, "sbp"),
        ({"sbp": 130, "dbp": 10}, "dbp"),
        ({"sbp": 130}, "dbp"),
        ({"sbp": 80, "dbp": 90}, "dbp"),
        ({"weight_kg": 700}, "weight_kg"),
        ({"height_cm": 10}, "height_cm"),
        ({"heart_rate": 400}, "heart_rate"),
        ({"fasting_glucose": 80}, "fasting_glucose"),
        ({"height_cm": 100, "weight_kg": 250}, "weight_kg"),
        ({"checked_on": "2025-06-16"}, "checked_on"),
        ({"checked_on": "1979-01-01"}, "checked_on"),
        ({"elderly": {"self_care_score": 3}}, "elderly"),
        ({"elderly": {"self_care_score": 99}}, "elderly"),
        ({"lifestyle": {"smoking": "sometimes"}}, "lifestyle"),
        ({"labs": {"hba1c": 45}}, "labs"),
        ({"assessment": "abnormal"}, "abnormalities"),
        ({"bmi": 22}, "bmi"),
        ({"sbp": "high", "dbp": 80}, "sbp"),
    ],
)
def test_health_check_bad_input_is_422_naming_the_field(api, world, app, june_2025, change, field):
    body = {"checked_on": "2025-06-01", **change}
    r = api.post("a-doc", f"/api/v1/residents/{world.alice}/health-checks", json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"], r.json
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HealthCheck)) == 0
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 0


def test_elderly_items_and_self_care_level(api, world, june_2025):
    made = check(
        api,
        "a-doc",
        world.grandpa,
        "2025-06-01",
        elderly={
            "self_care_score": 10,
            "health_self_assessment": 2,
            "cognitive_screen": "positive",
            "mmse_score": 22,
            "emotional_screen": "negative",
        },
    )
    assert made["elderly"] == {
        "self_care_score": 10,
        "health_self_assessment": 2,
        "cognitive_screen": "positive",
        "mmse_score": 22,
        "emotional_screen": "negative",
        "self_care_level": "moderate",
    }
    assert made["bmi"] is None


def test_only_clinical_staff_enter_records(api, world, june_2025):
    assert (
        api.post(
            "alice", f"/api/v1/residents/{world.alice}/health-checks", json={"checked_on": "2025-06-01"}
        ).status_code
        == 403
    )
    assert (
        api.post(
            "a-admin",
            f"/api/v1/residents/{world.alice}/service-records",
            json={"kind": "consultation", "served_on": "2025-06-01"},
        ).status_code
        == 403
    )


def test_service_records_by_kind(api, world, app, june_2025):
    url = f"/api/v1/residents/{world.grandpa}/service-records"
    missing = api.post("a-doc", url, json={"kind": "referral", "served_on": "2025-06-01"})
    assert missing.status_code == 422 and "referral" in missing.json["errors"]
    wrong = api.post(
        "a-doc",
        url,
        json={"kind": "tcm", "served_on": "2025-06-01", "referral": {"to_institution": "市立医院", "reason": "x"}},
    )
    assert wrong.status_code == 422 and "referral" in wrong.json["errors"]
    bad_kind = api.post("a-doc", url, json={"kind": "massage", "served_on": "2025-06-01"})
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json["errors"]
    future = api.post("a-doc", url, json={"kind": "home_visit", "served_on": "2025-07-01"})
    assert future.status_code == 422 and "served_on" in future.json["errors"]
    high = api.post("a-doc", url, json={"kind": "home_visit", "served_on": "2025-06-01", "sbp": 301, "dbp": 90})
    assert high.status_code == 422 and "sbp" in high.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0

    referral = record(
        api,
        "a-doc",
        world.grandpa,
        "referral",
        "2025-06-02",
        referral={"to_institution": "威海市立医院", "department": "心内科", "reason": "两次血压控制不满意"},
    )
    assert referral["referral"] == {
        "direction": "up",
        "to_institution": "威海市立医院",
        "department": "心内科",
        "reason": "两次血压控制不满意",
    }
    tcm = record(
        api,
        "a-doc",
        world.grandpa,
        "tcm",
        "2025-06-03",
        tcm={"constitution": ["qi_deficiency"], "guidance": ["diet", "exercise"]},
    )
    assert tcm["tcm"] == {"constitution": ["qi_deficiency"], "guidance": ["diet", "exercise"]}
    visit = record(api, "a-doc", world.grandpa, "home_visit", "2025-06-04", sbp=150, dbp=92, summary="上门测血压")
    assert (visit["sbp"], visit["dbp"], visit["referral"], visit["tcm"]) == (150, 92, None, None)
    listed = archive(api, "grandpa", world.grandpa).json["service_records"]
    assert [i["kind"] for i in listed["items"]] == ["home_visit", "tcm", "referral"]


def test_conditions_registry(api, world, app, june_2025):
    url = f"/api/v1/residents/{world.alice}/conditions"
    r = api.post("a-doc", url, json={"disease": "t2dm", "diagnosed_on": "2024-11-03"})
    assert r.status_code == 201
    assert {k: r.json[k] for k in ("disease", "diagnosed_on", "active")} == {
        "disease": "t2dm",
        "diagnosed_on": "2024-11-03",
        "active": True,
    }
    again = api.post("a-doc", url, json={"disease": "t2dm", "diagnosed_on": "2025-01-01"})
    assert again.status_code == 409 and again.json["error"] == "duplicate_condition"
    existing = api.post(
        "a-doc",
        f"/api/v1/residents/{world.grandpa}/conditions",
        json={"disease": "hypertension", "diagnosed_on": "2021-01-01"},
    )
    assert existing.status_code == 409
    assert api.post("a-doc", url, json={"disease": "flu", "diagnosed_on": "2025-01-01"}).status_code == 422
    future = api.post("a-doc", url, json={"disease": "copd", "diagnosed_on": "2025-07-01"})
    assert future.status_code == 422 and "diagnosed_on" in future.json["errors"]
    assert api.post("b-doc", url, json={"disease": "copd", "diagnosed_on": "2025-01-01"}).status_code == 404

    body = archive(api, "alice", world.alice).json
    assert body["populations"] == ["t2dm"]
    assert [(c["disease"], c["diagnosed_on"]) for c in body["conditions"]] == [("t2dm", "2024-11-03")]
    # a closed registration is reopened rather than duplicated
    with app.app_context():
        db.session.execute(db.update(Condition).where(Condition.resident_id == world.alice).values(active=False))
        db.session.commit()
    reopened = api.post("a-doc", url, json={"disease": "t2dm", "diagnosed_on": "2025-05-05"})
    assert reopened.status_code == 201 and reopened.json["id"] == r.json["id"]
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Condition).where(Condition.resident_id == world.alice))
            == 1
        )


def test_three_year_comparison_for_the_elderly(api, world, june_2025):
    check(api, "a-doc", world.grandpa, "2022-05-01", sbp=170, dbp=100, weight_kg=80, height_cm=170)
    check(api, "a-doc", world.grandpa, "2023-04-01", sbp=150, dbp=95, weight_kg=76, height_cm=170, fasting_glucose=6.8)
    check(api, "a-doc", world.grandpa, "2024-09-01", sbp=135, dbp=85, weight_kg=74, height_cm=170, fasting_glucose=6.2)
    check(api, "a-doc", world.grandpa, "2024-03-01", sbp=140, dbp=88, weight_kg=75, height_cm=170)
    check(
        api, "a-doc", world.grandpa, "2025-05-20", sbp=130, dbp=80, weight_kg=72.5, height_cm=170, fasting_glucose=6.0
    )
    checks = archive(api, "grandpa", world.grandpa).json["health_checks"]
    assert [i["checked_on"] for i in checks["items"]] == [
        "2025-05-20",
        "2024-09-01",
        "2024-03-01",
        "2023-04-01",
        "2022-05-01",
    ]
    assert checks["comparison"] == [
        {
            "year": 2025,
            "checked_on": "2025-05-20",
            "sbp": 130,
            "dbp": 80,
            "weight_kg": 72.5,
            "bmi": 25.1,
            "fasting_glucose": 6.0,
        },
        {
            "year": 2024,
            "checked_on": "2024-09-01",
            "sbp": 135,
            "dbp": 85,
            "weight_kg": 74.0,
            "bmi": 25.6,
            "fasting_glucose": 6.2,
        },
        {
            "year": 2023,
            "checked_on": "2023-04-01",
            "sbp": 150,
            "dbp": 95,
            "weight_kg": 76.0,
            "bmi": 26.3,
            "fasting_glucose": 6.8,
        },
    ]


def test_the_comparison_is_the_same_whatever_page_of_checks_is_read(api, world, june_2025):
    """The comparison comes from the page's rows when they hold the three years, else from its own
    query: the same answer for every page size and page."""
    for day, sbp in (
        ("2021-06-01", 175),  # before the three years
        ("2022-05-01", 170),
        ("2023-04-01", 150),
        ("2023-04-01", 152),  # the same day: the later check is the year's latest
        ("2024-03-01", 140),
        ("2024-09-01", 135),
        ("2025-05-20", 130),
        ("2025-06-01", 128),
    ):
        check(api, "a-doc", world.grandpa, day, sbp=sbp, dbp=80)
    expected = archive(api, "a-doc", world.grandpa, per_page=100).json["health_checks"]["comparison"]
    assert [(c["year"], c["checked_on"], c["sbp"]) for c in expected] == [
        (2025, "2025-06-01", 128),
        (2024, "2024-09-01", 135),
        (2023, "2023-04-01", 152),
    ]
    for per_page in (1, 2, 3, 5, 6, 7, 8):
        for page in (1, 2, 9):
            body = archive(api, "a-doc", world.grandpa, per_page=per_page, health_checks_page=page).json
            assert body["health_checks"]["comparison"] == expected, (per_page, page)


def test_comparison_shows_a_missed_year_and_is_absent_under_65(api, world, app, june_2025):
    rid = add_resident(app, world, "aunt", "王秀英", world.a, date(1958, 3, 3), sex="female")
    check(api, "a-doc", rid, "2025-02-01", sbp=128, dbp=78)
    check(api, "a-doc", rid, "2023-02-01", sbp=138, dbp=82)
    comparison = archive(api, "a-doc", rid).json["health_checks"]["comparison"]
    assert [(c["year"], c["checked_on"], c["sbp"]) for c in comparison] == [
        (2025, "2025-02-01", 128),
        (2024, None, None),
        (2023, "2023-02-01", 138),
    ]
    check(api, "a-doc", world.alice, "2025-02-01", sbp=120, dbp=70)
    assert archive(api, "alice", world.alice).json["health_checks"]["comparison"] is None


def test_a_certified_disabled_residents_yearly_checks_are_compared_too(api, world, app, june_2025):
    rid = add_resident(app, world, "cousin", "李伟", world.a, date(1985, 3, 3), disabled_certified=True)
    check(api, "a-doc", rid, "2025-02-01", sbp=124, dbp=78)
    check(api, "a-doc", rid, "2024-03-01", sbp=131, dbp=84)
    comparison = archive(api, "a-doc", rid).json["health_checks"]["comparison"]
    assert [(c["year"], c["checked_on"], c["sbp"]) for c in comparison] == [
        (2025, "2025-02-01", 124),
        (2024, "2024-03-01", 131),
        (2023, None, None),
    ]


def test_lists_are_paginated_and_sections_selectable(api, world, app, june_2025):
    for day in range(1, 26):
        check(api, "a-doc", world.alice, date(2025, 5, day), weight_kg=50 + day)
    body = archive(api, "alice", world.alice, per_page=10, health_checks_page=3).json
    section = body["health_checks"]
    assert (section["total"], section["page"], section["per_page"]) == (25, 3, 10)
    assert [i["checked_on"] for i in section["items"]] == [f"2025-05-{d:02d}" for d in range(5, 0, -1)]
    past = archive(api, "alice", world.alice, per_page=10, health_checks_page=4).json["health_checks"]
    assert (past["total"], past["items"]) == (25, [])
    only = archive(api, "alice", world.alice, sections="health_checks", per_page=2)
    assert list(only.json) == ["health_checks"]
    assert [i["weight_kg"] for i in only.json["health_checks"]["items"]] == [75.0, 74.0]
    assert log_rows(app, world.alice, action="read")[-1].section == "archive:health_checks"
    assert archive(api, "alice", world.alice, per_page=101).status_code == 422
    assert archive(api, "alice", world.alice, sections="diary").status_code == 422


def _archive_queries(api, app, who, rid):
    with counting_queries(app) as statements:
        r = archive(api, who, rid)
    assert r.status_code == 200
    return len(statements)


@pytest.mark.parametrize("who", ["a-doc", "grandpa"])
def test_archive_issues_a_bounded_number_of_queries(api, world, app, june_2025, who):
    for n in range(2):
        check(
            api,
            "a-doc",
            world.grandpa,
            date(2025, 1, 1 + n),
            sbp=130,
            dbp=80,
            weight_kg=70,
            height_cm=170,
            elderly={"self_care_score": 1},
        )
        record(api, "a-doc", world.grandpa, "home_visit", date(2025, 2, 1 + n), sbp=130, dbp=80)
    archive(api, who, world.grandpa)  # log in first: tokens are not part of the count
    small = _archive_queries(api, app, who, world.grandpa)
    for n in range(38):
        day = date(2021 + n % 4, 1 + n % 12, 1 + n % 28)
        check(api, "a-doc", world.grandpa, day, sbp=120 + n, dbp=80, weight_kg=70, height_cm=170, fasting_glucose=6.0)
        record(api, "a-doc", world.grandpa, "consultation", day)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HealthCheck)) == 40
    large = _archive_queries(api, app, who, world.grandpa)
    # the same statements whatever the size, but one: the three-year comparison reads its own rows
    # when the first page of checks no longer holds those years
    assert large == small + 1
    assert large <= 14  # every section included (follow-ups and contract are other features' hooks)


def test_sections_from_other_features_plug_in_through_the_hook(api, world, monkeypatch, june_2025):
    from app.archive import view

    seen = {}

    def followups(resident, args):
        seen.update(resident=resident.id, owner=args["owner"], today=args["today"], kind=args["actor"].kind)
        return "followups", {"next_due_on": date(2025, 7, 1), "visits": [{"at": at_local(date(2025, 6, 1), 9)}]}

    monkeypatch.setattr(view, "ARCHIVE_SECTIONS", [followups, lambda resident, args: None])
    body = archive(api, "grandpa", world.grandpa).json
    assert body["followups"] == {"next_due_on": "2025-07-01", "visits": [{"at": "2025-06-01T01:00:00+00:00"}]}
    assert body["contract"] is None
    assert seen == {"resident": world.grandpa, "owner": True, "today": date(2025, 6, 15), "kind": "resident"}
