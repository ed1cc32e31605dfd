"""POST /api/v1/followups: the form, the classification rules, the next date, referral, access."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from tests.followups.helpers import DAY, add_condition, morning, plans, post_visit, visit_ok

D = DAY


@pytest.fixture(autouse=True)
def _clock():
    with frozen(morning(DAY)):
        yield


def visit_count(app) -> int:
    from app.followups.models import FollowupVisit

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FollowupVisit))


# --- classification rules and the next date --------------------------------------------------


def test_controlled_visit_is_followed_up_in_the_normal_quarterly_cycle(api, world):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=82, heart_rate=72)
    assert body["classification"] == "controlled"
    assert body["referral_suggested"] is False and body["urgent_referral"] is False
    assert body["next_due_on"] == (D + timedelta(days=90)).isoformat()
    plan = body["outcomes"][0]["plan"]
    assert (plan["opens_on"], plan["due_on"], plan["reason"], plan["priority"]) == (
        (D + timedelta(days=80)).isoformat(),
        (D + timedelta(days=90)).isoformat(),
        "routine",
        0,
    )
    visit = body["visit"]
    assert visit["classification_source"] == "computed" and visit["face_to_face"] is True
    assert visit["diseases"] == ["hypertension"] and visit["doctor"] == "王医生"


def test_first_uncontrolled_bp_is_rechecked_within_two_weeks_without_referral(api, world):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=88)
    assert body["classification"] == "uncontrolled"
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()
    assert body["referral_suggested"] is False
    plan = body["outcomes"][0]["plan"]
    assert (plan["opens_on"], plan["reason"]) == ((D + timedelta(days=1)).isoformat(), "recheck")


@pytest.mark.parametrize(
    "sbp,dbp,expected", [(139, 89, "controlled"), (140, 80, "uncontrolled"), (130, 90, "uncontrolled")]
)
def test_bp_threshold_is_140_over_90(api, world, sbp, dbp, expected):
    assert visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=sbp, dbp=dbp)["classification"] == expected


@pytest.mark.parametrize(
    "glucose,expected,due_days", [(6.9, "controlled", 90), (7.0, "uncontrolled", 14), (9.4, "uncontrolled", 14)]
)
def test_fasting_glucose_threshold_is_7(api, world, glucose, expected, due_days):
    body = visit_ok(api, "b-doc", world.bob, "t2dm", D, fasting_glucose=glucose)
    assert body["classification"] == expected
    assert body["next_due_on"] == (D + timedelta(days=due_days)).isoformat()


def test_adverse_reaction_is_rechecked_within_two_weeks(api, world):
    body = visit_ok(
        api,
        "a-doc",
        world.grandpa,
        "hypertension",
        D,
        sbp=126,
        dbp=80,
        adverse_reaction=True,
        adverse_reaction_text="干咳",
    )
    assert body["classification"] == "adverse_reaction"
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()
    assert body["referral_suggested"] is False
    assert body["visit"]["adverse_reaction_text"] == "干咳"


def test_two_consecutive_uncontrolled_suggest_referral(api, world):
    first = visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=12), sbp=152, dbp=94)
    assert first["referral_suggested"] is False
    second = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=148, dbp=92)
    assert second["classification"] == "uncontrolled"
    assert second["referral_suggested"] is True and second["urgent_referral"] is False
    assert second["next_due_on"] == (D + timedelta(days=14)).isoformat()
    plan = second["outcomes"][0]["plan"]
    assert (plan["reason"], plan["priority"]) == ("referral", 1)


def test_uncontrolled_after_a_controlled_visit_is_not_a_referral(api, world):
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=80), sbp=150, dbp=95)
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=60), sbp=130, dbp=80)
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=95)
    assert body["referral_suggested"] is False and body["outcomes"][0]["plan"]["reason"] == "recheck"


def test_complication_suggests_referral(api, world):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=132, dbp=84, complications=["短暂性脑缺血发作"])
    assert body["classification"] == "complication"
    assert body["referral_suggested"] is True
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()


@pytest.mark.parametrize(
    "values,alert",
    [
        ({"sbp": 182, "dbp": 96}, "sbp>=180"),
        ({"sbp": 170, "dbp": 112}, "dbp>=110"),
    ],
)
def test_emergency_bp_means_urgent_referral(api, world, values, alert):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, **values)
    assert body["urgent_referral"] is True and body["referral_suggested"] is True
    assert body["visit"]["alerts"] == [alert]
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()
    plan = body["outcomes"][0]["plan"]
    assert (plan["reason"], plan["priority"]) == ("urgent", 2)


@pytest.mark.parametrize("glucose,alert", [(16.7, "glucose>=16.7"), (3.9, "glucose<=3.9")])
def test_emergency_glucose_means_urgent_referral(api, world, glucose, alert):
    body = visit_ok(api, "b-doc", world.bob, "t2dm", D, fasting_glucose=glucose)
    assert body["classification"] == "uncontrolled"
    assert body["urgent_referral"] is True and body["visit"]["alerts"] == [alert]


def test_emergency_wins_over_an_override(api, world):
    body = visit_ok(
        api,
        "a-doc",
        world.grandpa,
        "hypertension",
        D,
        sbp=186,
        dbp=100,
        classification="controlled",
        classification_reason="白大衣高血压，家庭自测正常",
    )
    assert body["classification"] == "controlled"
    assert body["urgent_referral"] is True and body["outcomes"][0]["plan"]["priority"] == 2


# --- the doctor's override ------------------------------------------------------------------------


def test_override_needs_a_reason(api, world, app):
    r = post_visit(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=95, classification="controlled")
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["classification_reason"]
    assert visit_count(app) == 0


def test_override_with_a_reason_is_kept_and_drives_the_next_date(api, world):
    body = visit_ok(
        api,
        "a-doc",
        world.grandpa,
        "hypertension",
        D,
        sbp=150,
        dbp=95,
        classification="controlled",
        classification_reason="诊室血压偏高，家庭自测均值 128/80",
    )
    visit = body["visit"]
    assert body["classification"] == "controlled"
    assert (visit["computed_classification"], visit["classification_source"]) == ("uncontrolled", "doctor")
    assert visit["classification_reason"] == "诊室血压偏高，家庭自测均值 128/80"
    assert body["next_due_on"] == (D + timedelta(days=90)).isoformat()


def test_confirming_the_computed_classification_needs_no_reason(api, world):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=95, classification="uncontrolled")
    assert body["visit"]["classification_source"] == "computed"


def test_without_measurements_the_doctor_must_classify(api, world, app):
    r = post_visit(api, "a-doc", world.grandpa, "hypertension", D, method="phone")
    assert r.status_code == 422 and list(r.json["errors"]) == ["sbp"]
    r = post_visit(api, "b-doc", world.bob, "t2dm", D, method="phone")
    assert r.status_code == 422 and list(r.json["errors"]) == ["fasting_glucose"]
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, method="phone", classification="controlled")
    assert body["visit"]["classification_source"] == "doctor"
    assert visit_count(app) == 1


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values,field",
    [
        ({"sbp": 400, "dbp": 80}, "sbp"),
        ({"sbp": 140, "dbp": 20}, "dbp"),
        ({"sbp": 120, "dbp": 125}, "dbp"),
        ({"sbp": 120}, "dbp"),
        ({"sbp": 120, "dbp": 80, "heart_rate": 300}, "heart_rate"),
        ({"sbp": 120, "dbp": 80, "weight_kg": 12}, "weight_kg"),
        ({"sbp": 120, "dbp": 80, "height_cm": 90}, "height_cm"),
        ({"sbp": 120, "dbp": 80, "fasting_glucose": 40}, "fasting_glucose"),
        ({"sbp": 120, "dbp": 80, "fasting_glucose": 0.5}, "fasting_glucose"),
        ({"sbp": 120, "dbp": 80, "hba1c": 25}, "hba1c"),
        ({"sbp": 120, "dbp": 80, "method": "video"}, "method"),
        ({"sbp": 120, "dbp": 80, "adherence": "sometimes"}, "adherence"),
        ({"sbp": 120, "dbp": 80, "classification": "fine"}, "classification"),
        ({"sbp": 120, "dbp": 80, "medications": [{"dose": "5mg"}]}, "medications"),
        ({"sbp": 120, "dbp": 80, "favourite_colour": "blue"}, "favourite_colour"),
        ({"sbp": 120, "dbp": 80, "visit_on": "2026-03-11"}, "visit_on"),
        ({"sbp": 120, "dbp": 80, "next_visit_on": "2026-03-10"}, "next_visit_on"),
    ],
)
def test_implausible_values_are_a_422_naming_the_field(api, world, app, values, field):
    body = {"sbp": None, **values}
    body = {k: v for k, v in body.items() if v is not None}
    visit_on = date.fromisoformat(body.pop("visit_on", D.isoformat()))
    method = body.pop("method", "clinic")
    r = post_visit(api, "a-doc", world.grandpa, "hypertension", visit_on, method, **body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"], r.json
    assert visit_count(app) == 0 and plans(app) == []


def test_disease_must_be_registered_for_the_resident(api, world, app):
    r = post_visit(api, "a-doc", world.alice, "hypertension", D, sbp=120, dbp=80)
    assert r.status_code == 422 and list(r.json["errors"]) == ["disease"]
    r = post_visit(api, "a-doc", world.grandpa, "both", D, sbp=120, dbp=80, fasting_glucose=5.5)
    assert r.status_code == 422 and list(r.json["errors"]) == ["disease"]
    assert visit_count(app) == 0


def test_resident_outside_scope_is_404_and_nothing_is_written(api, world, app):
    r = post_visit(api, "b-doc", world.grandpa, "hypertension", D, sbp=120, dbp=80)
    assert r.status_code == 404 and "张建国" not in r.get_data(as_text=True)
    assert visit_count(app) == 0


def test_only_clinical_staff_record_and_residents_cannot(api, world):
    assert post_visit(api, "a-admin", world.grandpa, "hypertension", D, sbp=120, dbp=80).status_code == 403
    assert post_visit(api, "grandpa", world.grandpa, "hypertension", D, sbp=120, dbp=80).status_code == 403


def test_closed_archive_cannot_get_a_visit(api, world):
    assert api.patch("a-doc", f"/api/v1/residents/{world.grandpa}", json={"status": "deceased"}).status_code == 200
    r = post_visit(api, "a-doc", world.grandpa, "hypertension", D, sbp=120, dbp=80)
    assert r.status_code == 409 and r.json["error"] == "resident_not_active"


def test_idempotency_key_replays_the_first_answer(api, world, app):
    headers = {"Idempotency-Key": "visit-1"}
    body = {
        "resident_id": world.grandpa,
        "disease": "hypertension",
        "visit_on": D.isoformat(),
        "method": "clinic",
        "sbp": 128,
        "dbp": 80,
    }
    first = api.post("a-doc", "/api/v1/followups", json=body, headers=headers)
    second = api.post("a-doc", "/api/v1/followups", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json["visit"]["id"] == second.json["visit"]["id"]
    assert visit_count(app) == 1


# --- the national form's fields ------------------------------------------------------------------


def test_the_whole_form_is_stored_and_bmi_computed(api, world):
    body = visit_ok(
        api,
        "a-doc",
        world.grandpa,
        "hypertension",
        D,
        method="home",
        symptoms=["headache_dizziness"],
        sbp=136,
        dbp=84,
        heart_rate=76,
        weight_kg=70.0,
        target_weight_kg=65.0,
        height_cm=170,
        lifestyle={
            "now": {
                "cigarettes_per_day": 10,
                "alcohol_per_day": 1,
                "exercise_times_per_week": 3,
                "exercise_minutes": 30,
                "salt_intake": "heavy",
            },
            "target": {"cigarettes_per_day": 0, "salt_intake": "light"},
        },
        psychological_adjustment="good",
        compliance="fair",
        adherence="intermittent",
        medications=[{"name": "苯磺酸氨氯地平片", "frequency": "每日1次", "dose": "5mg"}],
        next_visit_on=(D + timedelta(days=60)).isoformat(),
    )
    visit = body["visit"]
    assert (visit["bmi"], visit["target_bmi"]) == (24.2, 22.5)
    assert visit["lifestyle"]["now"]["salt_intake"] == "heavy"
    assert visit["medications"] == [{"name": "苯磺酸氨氯地平片", "frequency": "每日1次", "dose": "5mg"}]
    assert visit["method"] == "home" and visit["face_to_face"] is True
    # the doctor's next date brings the due date forward (window length kept: 10 days)
    assert body["next_due_on"] == (D + timedelta(days=60)).isoformat()
    assert body["outcomes"][0]["plan"]["opens_on"] == (D + timedelta(days=50)).isoformat()
    # the height is remembered for the next BMI
    later = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=130, dbp=80, weight_kg=72.25)
    assert later["visit"]["bmi"] == 25.0


def test_a_later_doctor_date_than_the_rule_is_capped_by_the_rule(api, world):
    body = visit_ok(
        api,
        "a-doc",
        world.grandpa,
        "hypertension",
        D,
        sbp=150,
        dbp=95,
        next_visit_on=(D + timedelta(days=30)).isoformat(),
    )
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()
    assert body["visit"]["next_visit_on"] == (D + timedelta(days=30)).isoformat()


def test_t2dm_form_fields(api, world):
    body = visit_ok(
        api,
        "b-doc",
        world.bob,
        "t2dm",
        D,
        fasting_glucose=6.2,
        hba1c=6.8,
        hba1c_on=(D - timedelta(days=3)).isoformat(),
        dorsalis_pedis="weakened",
        hypoglycaemia="occasional",
        insulin={"type": "甘精胰岛素", "dose": "睡前12单位"},
        lifestyle={"now": {"staple_food_g": 350}, "target": {"staple_food_g": 250}},
    )
    visit = body["visit"]
    assert (visit["hba1c"], visit["dorsalis_pedis"], visit["hypoglycaemia"]) == (6.8, "weakened", "occasional")
    assert visit["insulin"] == {"type": "甘精胰岛素", "dose": "睡前12单位"}
    assert visit["t2dm_classification"] == "controlled" and visit["hypertension_classification"] is None


# --- combined visits and phone visits -------------------------------------------------------------


def test_a_combined_visit_satisfies_both_diseases(api, world, app):
    add_condition(app, world.grandpa, "t2dm")
    body = visit_ok(api, "a-doc", world.grandpa, "both", D, sbp=150, dbp=92, fasting_glucose=6.1)
    assert body["classification"] == "uncontrolled"
    assert body["visit"]["diseases"] == ["hypertension", "t2dm"]
    outcomes = {o["disease"]: o for o in body["outcomes"]}
    assert outcomes["hypertension"]["classification"] == "uncontrolled"
    assert outcomes["hypertension"]["plan"]["due_on"] == (D + timedelta(days=14)).isoformat()
    assert outcomes["t2dm"]["classification"] == "controlled"
    assert outcomes["t2dm"]["plan"]["due_on"] == (D + timedelta(days=90)).isoformat()
    assert body["next_due_on"] == (D + timedelta(days=14)).isoformat()
    open_plans = plans(app, world.grandpa, "open")
    assert sorted(p["disease"] for p in open_plans) == ["hypertension", "t2dm"]
    assert {p["last_visit_id"] for p in open_plans} == {body["visit"]["id"]}


def test_a_visit_covering_one_disease_leaves_the_other_due(api, world, app):
    add_condition(app, world.grandpa, "t2dm")
    first = visit_ok(api, "a-doc", world.grandpa, "both", D - timedelta(days=85), sbp=128, dbp=80, fasting_glucose=6.0)
    t2dm_plan = next(o["plan"] for o in first["outcomes"] if o["disease"] == "t2dm")
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    open_plans = {p["disease"]: p for p in plans(app, world.grandpa, "open")}
    assert open_plans["t2dm"]["id"] == t2dm_plan["id"]
    assert open_plans["t2dm"]["due_on"] == D - timedelta(days=85) + timedelta(days=90)
    assert open_plans["hypertension"]["due_on"] == D + timedelta(days=90)


def test_phone_follow_up_is_recorded_but_does_not_close_the_face_to_face_plan(api, world, app):
    clinic = visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=40), sbp=128, dbp=80)
    plan_id = clinic["outcomes"][0]["plan"]["id"]
    phone = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, method="phone", sbp=126, dbp=78)
    assert phone["visit"]["face_to_face"] is False
    assert phone["outcomes"][0]["plan"]["id"] == plan_id
    assert phone["next_due_on"] == (D + timedelta(days=50)).isoformat()  # still the clinic visit's plan
    [open_plan] = plans(app, world.grandpa, "open")
    assert open_plan["id"] == plan_id and open_plan["last_visit_id"] == phone["visit"]["id"]
    r = api.get("a-doc", f"/api/v1/residents/{world.grandpa}/followups")
    assert r.json["face_to_face_this_year"] == {"hypertension": 1, "t2dm": 0}


def test_uncontrolled_phone_follow_up_brings_the_face_to_face_window_forward(api, world, app):
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=40), sbp=128, dbp=80)
    phone = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, method="phone", sbp=156, dbp=96)
    plan = phone["outcomes"][0]["plan"]
    assert (plan["opens_on"], plan["due_on"], plan["reason"]) == (
        (D + timedelta(days=1)).isoformat(),
        (D + timedelta(days=14)).isoformat(),
        "recheck",
    )


def test_late_entry_of_an_older_visit_does_not_move_the_plan(api, world, app):
    recent = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=30), sbp=150, dbp=95)
    [open_plan] = plans(app, world.grandpa, "open")
    assert open_plan["id"] == recent["outcomes"][0]["plan"]["id"]
    assert open_plan["due_on"] == D + timedelta(days=90)


def test_recording_a_visit_closes_the_plan_and_opens_the_next(api, world, app):
    first = visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=85), sbp=128, dbp=80)
    second = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    rows = plans(app, world.grandpa)
    assert [(p["status"], p["close_reason"]) for p in rows] == [("done", "visit"), ("open", None)]
    assert rows[0]["closed_by_visit_id"] == second["visit"]["id"] and rows[0]["closed_on"] == D
    assert rows[0]["id"] == first["outcomes"][0]["plan"]["id"]


# --- contract delivery and audit ------------------------------------------------------------------


def test_face_to_face_visit_counts_as_a_contract_delivery_and_phone_does_not(api, world):
    from tests.contracts.helpers import item, make_packages, signed

    packages = make_packages(api, world)
    contract = signed(api, "a-doc", [world.grandpa], world.team_a, [packages["basic"]["id"], packages["htn"]["id"]])
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, method="phone", sbp=128, dbp=80)
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, method="home", sbp=128, dbp=80)
    now = api.get("a-doc", f"/api/v1/contracts/{contract['id']}").json
    assert item(now, "chronic_followup")["delivered"] == 2


def test_recording_and_reading_are_in_the_access_log(api, world, app):
    from app.audit.models import AccessLog

    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    assert api.get("a-doc", f"/api/v1/residents/{world.grandpa}/followups").status_code == 200
    with app.app_context():
        rows = db.session.execute(
            select(AccessLog.action, AccessLog.section, AccessLog.purpose, AccessLog.actor_display)
            .where(AccessLog.subject_resident_id == world.grandpa)
            .order_by(AccessLog.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("create", "followup", "follow_up", "王医生"),
        ("read", "followups", "follow_up", "王医生"),
    ]


# --- the resident's side ----------------------------------------------------------------------------


def test_resident_sees_own_visits_open_plan_and_trend(api, world):
    for days, sbp, dbp in ((200, 150, 95), (186, 142, 90), (100, 134, 84), (10, 128, 80)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=days), sbp=sbp, dbp=dbp)
    r = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/followups?per_page=2&trend_visits=3")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["managed_diseases"] == ["hypertension"]
    assert body["visits"]["total"] == 4 and len(body["visits"]["items"]) == 2
    assert body["visits"]["items"][0]["visit_on"] == (D - timedelta(days=10)).isoformat()
    assert [(p["sbp"], p["dbp"]) for p in body["trend"]] == [(142, 90), (134, 84), (128, 80)]
    assert body["open_plan"]["due_on"] == (D + timedelta(days=80)).isoformat()
    assert body["open_plan"]["window"] == "upcoming"
    # the trend cut from a page that holds it, and a page past the end, agree with the above
    whole = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/followups?trend_visits=3").json
    assert whole["trend"] == body["trend"] and whole["visits"]["total"] == 4
    past = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/followups?per_page=2&page=3").json
    assert (past["visits"]["total"], past["visits"]["items"]) == (4, [])
    in_2026 = {"hypertension": 1, "t2dm": 0}  # only the visit 10 days ago
    assert body["face_to_face_this_year"] == whole["face_to_face_this_year"] == in_2026
    assert past["face_to_face_this_year"] == in_2026


def test_other_residents_cannot_read_them(api, world):
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    assert api.get("alice", f"/api/v1/residents/{world.grandpa}/followups").status_code == 404
    assert api.get("b-doc", f"/api/v1/residents/{world.grandpa}/followups").status_code == 404


def test_one_visit_can_be_read_by_id_in_scope_only(api, world):
    visit_id = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)["visit"]["id"]
    assert api.get("grandpa", f"/api/v1/followups/{visit_id}").json["sbp"] == 128
    assert api.get("b-doc", f"/api/v1/followups/{visit_id}").status_code == 404
    assert api.get("bob", f"/api/v1/followups/{visit_id}").status_code == 404


def test_the_archive_carries_the_followups_section(api, world):
    visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=95)
    r = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive")
    assert r.status_code == 200, r.json
    section = r.json["followups"]
    assert section["open_plan"]["due_on"] == (D + timedelta(days=14)).isoformat()
    assert section["visits"]["items"][0]["classification"] == "uncontrolled"
