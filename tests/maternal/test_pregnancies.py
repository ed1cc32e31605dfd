"""Pregnancies through the HTTP API: registration at 10 and at 15 weeks and the schedule each gets, a
high-risk pregnancy's 7 visits, the plans of the one plan engine (worklist, reminders to the woman
exactly once and withdrawn after the visit), a delivery creating the baby's archive and the guardian
grant, postpartum visits, bad input and scope."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.audit.models import AccessLog
from app.common.ids import make_id_number
from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job, reminders_job
from app.followups.notifications import MATERNAL_DUE
from tests.archive.helpers import add_resident
from tests.followups.helpers import DAY, morning, outbox, plans, run

D = DAY
W = 7


def woman(app, world, key="mum", age=28) -> int:
    """A woman of alice's household and team A, who can log in as ``key``."""
    from app.residents.models import Resident

    rid = add_resident(
        app, world, key, "孙梅", world.a, date(D.year - age, 4, 2), sex="female", household_id=world.home
    )
    with app.app_context():
        person = db.session.get(Resident, rid)
        person.team_id, person.relation_to_head = world.team_a, "妻子"
        db.session.commit()
    return rid


def register(api, rid, weeks: int, who="a-doc", registered_on=D, **fields):
    body = {
        "registered_on": str(registered_on),
        "last_menstrual_on": str(registered_on - timedelta(days=weeks * W)),
        **fields,
    }
    with frozen(morning(D)):
        return api.post(who, f"/api/v1/residents/{rid}/pregnancies", json=body)


def post(api, path, body, who="a-doc", day=D):
    with frozen(morning(day)):
        return api.post(who, path, json={k: str(v) if isinstance(v, date) else v for k, v in body.items()})


def maternal_plans(app, rid, status="open"):
    return [
        (p["disease"], p["kind"], p["opens_on"], p["due_on"])
        for p in plans(app, rid, status, ("antenatal", "postpartum"))
    ]


def test_registered_at_10_weeks_early_with_five_visits(app, api, world):
    rid = woman(app, world)
    r = register(api, rid, 10, gravidity=2, parity=1)
    assert r.status_code == 201, r.json
    lmp = D - timedelta(days=70)
    body = r.json
    assert (body["status"], body["gestational_weeks_at_registration"], body["early_registration"]) == (
        "ongoing",
        10,
        True,
    )
    assert (body["high_risk"], body["expected_on"], body["gestational_age"]) == (
        False,
        str(lmp + timedelta(days=280)),
        "10+0",
    )
    assert [(s["kind"], s["opens_on"], s["due_on"]) for s in body["schedule"]] == [
        ("first", str(D), str(lmp + timedelta(days=90))),
        ("w16_20", str(lmp + timedelta(days=112)), str(lmp + timedelta(days=146))),
        ("w21_24", str(lmp + timedelta(days=147)), str(lmp + timedelta(days=174))),
        ("w28_36", str(lmp + timedelta(days=196)), str(lmp + timedelta(days=258))),
        ("w37_40", str(lmp + timedelta(days=259)), str(lmp + timedelta(days=286))),
    ]
    # the basic sheet's due date is the pregnancy's; she is in the "pregnant" population
    with frozen(morning(D)):
        sheet = api.get("a-doc", f"/api/v1/residents/{rid}").json
    assert sheet["pregnancy_due_on"] == str(lmp + timedelta(days=280)) and "pregnant" in sheet["populations"]
    # the first visit's plan opened at once
    assert maternal_plans(app, rid) == [("antenatal", "first", D, lmp + timedelta(days=90))]
    # a second ongoing pregnancy is a conflict
    again = register(api, rid, 11)
    assert again.status_code == 409 and again.json["error"] == "pregnancy_ongoing"


def test_registered_at_15_weeks_late_and_the_first_visit_due_at_once(app, api, world):
    rid = woman(app, world)
    r = register(api, rid, 15)
    assert r.status_code == 201, r.json
    assert (r.json["gestational_weeks_at_registration"], r.json["early_registration"]) == (15, False)
    first = r.json["schedule"][0]
    assert (first["kind"], first["opens_on"], first["due_on"], first["missed"]) == ("first", str(D), str(D), False)
    assert len(r.json["schedule"]) == 5
    visit = post(api, f"/api/v1/pregnancies/{r.json['id']}/antenatal-visits", {"visit_on": D, "sbp": 112, "dbp": 70})
    assert visit.status_code == 201, visit.json
    assert (visit.json["slot"], visit.json["gestational_age"], visit.json["gestational_days"]) == ("first", "15+0", 105)
    lmp = D - timedelta(days=105)
    assert maternal_plans(app, rid) == [("antenatal", "w16_20", lmp + timedelta(days=112), lmp + timedelta(days=146))]
    assert maternal_plans(app, rid, "done") == [("antenatal", "first", D, D)]


def test_a_high_risk_pregnancy_is_owed_seven_visits(app, api, world):
    rid = woman(app, world, age=37)  # 35 or over at the expected date: high-risk by age alone
    r = register(api, rid, 8, registered_on=D - timedelta(days=34 * W), risk_factors=["anaemia"])
    assert r.status_code == 201, r.json
    assert r.json["high_risk"] and r.json["risk_factors"] == ["anaemia", "advanced_age"]
    kinds = [s["kind"] for s in r.json["schedule"]]
    assert kinds == ["first", "w16_20", "w21_24", "w25_27", "w28_31", "w32_36", "w37_40"]
    lmp = D - timedelta(days=42 * W)
    pid = r.json["id"]
    for week in (9, 18, 22, 26, 30, 34, 38):
        visit = post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": lmp + timedelta(days=week * W)})
        assert visit.status_code == 201, (week, visit.json)
    with frozen(morning(D)):
        [mine] = api.get("a-doc", f"/api/v1/residents/{rid}/pregnancies").json["items"]
    assert mine["antenatal_visit_count"] == 7
    assert [(v["slot"], v["gestational_age"]) for v in mine["antenatal_visits"]] == [
        ("first", "9+0"), ("w16_20", "18+0"), ("w21_24", "22+0"), ("w25_27", "26+0"), ("w28_31", "30+0"),
        ("w32_36", "34+0"), ("w37_40", "38+0"),
    ]  # fmt: skip
    assert all(s["done_on"] for s in mine["schedule"])


def test_a_visit_raising_the_risk_extends_the_schedule(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 10).json["id"]
    r = post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": D, "risk_factors": ["preeclampsia"]})
    assert r.status_code == 201
    with frozen(morning(D)):
        [mine] = api.get("a-doc", f"/api/v1/residents/{rid}/pregnancies").json["items"]
    assert mine["high_risk"] and len(mine["schedule"]) == 7


def test_the_woman_is_reminded_once_and_the_reminder_withdrawn_after_the_visit(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 10).json["id"]
    run(app, plans_job.ensure_plans, D)
    for _ in range(3):
        run(app, reminders_job.send_reminders, D, hour=2)
    [row] = outbox(app, MATERNAL_DUE.kind)
    assert row["dedup_key"] == f"maternal:{rid}:open:{D.isoformat()}"
    assert (row["recipient_kind"], row["recipient_id"]) == ("resident", rid)
    assert row["payload"]["body"].startswith("您的产前检查时间到了")
    with frozen(morning(D)):
        listed = api.get("a-doc", "/api/v1/worklist", query_string={"programme": "antenatal"}).json["items"]
        due = api.get("mum", "/api/v1/me").json["due"]
    assert [(i["resident"]["id"], i["kind"]) for i in listed] == [(rid, "first")]
    assert [(d["programme"], d["kind"]) for d in due] == [("antenatal", "first")]
    assert post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": D}).status_code == 201
    assert [r["status"] for r in outbox(app, MATERNAL_DUE.kind)] == ["skipped"]
    # the job keeps what the visit did: nothing to close or open
    counts = run(app, plans_job.ensure_plans, D)
    assert [counts[k] for k in ("maternal_done", "maternal_lapsed", "maternal_opened")] == [0, 0, 0]


def test_a_missed_visit_lapses_when_the_next_window_opens(app, api, world):
    rid = woman(app, world)
    register(api, rid, 10)
    lmp = D - timedelta(days=70)
    counts = run(app, plans_job.ensure_plans, lmp + timedelta(days=16 * W))
    assert (counts["maternal_lapsed"], counts["maternal_opened"]) == (1, 1)
    assert maternal_plans(app, rid) == [("antenatal", "w16_20", lmp + timedelta(days=112), lmp + timedelta(days=146))]


def test_a_delivery_opens_the_babys_archive_with_the_mother_as_guardian(app, api, world):
    rid = woman(app, world)
    with frozen(morning(D)):
        assert api.get("mum", "/api/v1/me").status_code == 200  # her account is bound to her archive
    pid = register(api, rid, 9, registered_on=D - timedelta(days=30 * W)).json["id"]  # 39 weeks today
    born, home = D - timedelta(days=3), D - timedelta(days=1)
    r = post(
        api,
        f"/api/v1/pregnancies/{pid}/delivery",
        {
            "delivered_on": born,
            "discharged_on": home,
            "outcome": "live_birth",
            "babies": [{"sex": "female", "birth_weight_g": 3200}],
        },
    )
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["outcome"], r.json["gestational_age"]) == ("delivered", "live_birth", None)
    [birth] = r.json["births"]
    baby = birth["resident_id"]
    assert (birth["live"], birth["sex"], birth["birth_weight_g"]) == (True, "female", 3200)
    # the antenatal visits are over; the home visit is due 3–7 days after discharge
    assert maternal_plans(app, rid) == [
        ("postpartum", "home_visit", home + timedelta(days=3), home + timedelta(days=7))
    ]
    assert [s["kind"] for s in r.json["schedule"]][-2:] == ["home_visit", "day42_check"]
    with frozen(morning(D)):
        sheet = api.get("mum", f"/api/v1/residents/{baby}").json
        me = api.get("mum", "/api/v1/me").json
        mine = api.get("mum", f"/api/v1/residents/{rid}").json
        assert api.get("b-doc", f"/api/v1/residents/{baby}").status_code == 404
    assert (sheet["name"], sheet["sex"], sheet["birth_on"], sheet["id_number"]) == (
        "孙梅之女",
        "female",
        str(born),
        None,
    )
    assert (sheet["household_id"], sheet["team_id"], sheet["relation_to_head"]) == (world.home, world.team_a, "女")
    assert baby in [m["resident_id"] for m in me["family"]]
    assert mine["pregnancy_due_on"] is None
    assert sheet["archive_no"] == f"HC01{baby:08d}"  # numbered like every archive of the institution
    # the baby's first check, the newborn home visit, is due at once (not from the next night's job)
    assert [p["kind"] for p in plans(app, baby, "open", ("child",))] == ["newborn_visit"]
    # the household registration gives the baby its number: once, matching the birth date and sex
    number = make_id_number("371002", born, 902)
    wrong = make_id_number("371002", born, 901)  # a boy's
    with frozen(morning(D)):
        refused = api.patch("a-doc", f"/api/v1/residents/{baby}", json={"id_number": wrong})
        given = api.patch("a-doc", f"/api/v1/residents/{baby}", json={"id_number": number})
        again = api.patch("a-doc", f"/api/v1/residents/{baby}", json={"id_number": number})
        shown = api.get("mum", f"/api/v1/residents/{baby}").json["id_number"]
    assert refused.status_code == 422 and "sex" in refused.json["errors"]["id_number"][0]
    assert given.status_code == 200 and given.json["id_number"] == "371002************"
    assert again.status_code == 422 and shown == "371002************"  # masked for a family member too
    # a second delivery, and a visit of an ended pregnancy, conflict
    again = post(
        api,
        f"/api/v1/pregnancies/{pid}/delivery",
        {"delivered_on": born, "outcome": "live_birth", "babies": [{"sex": "male"}]},
    )
    assert again.status_code == 409 and again.json["error"] == "pregnancy_ended"
    assert post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": D}).status_code == 409
    # the postpartum visits: the home visit closes its plan, the 42-day check is next
    visit = post(
        api, f"/api/v1/pregnancies/{pid}/postpartum-visits", {"visit_on": D, "kind": "home_visit", "lochia": "normal"}
    )
    assert visit.status_code == 201, visit.json
    assert visit.json["days_after_delivery"] == 3
    assert maternal_plans(app, rid) == [
        ("postpartum", "day42_check", born + timedelta(days=42), born + timedelta(days=56))
    ]
    twice = post(api, f"/api/v1/pregnancies/{pid}/postpartum-visits", {"visit_on": D, "kind": "home_visit"})
    assert twice.status_code == 409


def test_a_miscarriage_ends_the_pregnancy_without_babies_or_postpartum_plans(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 10).json["id"]
    with_baby = post(
        api,
        f"/api/v1/pregnancies/{pid}/delivery",
        {"delivered_on": D, "outcome": "miscarriage", "babies": [{"sex": "male"}]},
    )
    assert with_baby.status_code == 422 and "babies" in with_baby.json["errors"]
    r = post(api, f"/api/v1/pregnancies/{pid}/delivery", {"delivered_on": D, "outcome": "miscarriage"})
    assert r.status_code == 200 and r.json["status"] == "ended"
    assert maternal_plans(app, rid) == []
    assert [p[1] for p in maternal_plans(app, rid, "closed")] == ["first"]
    assert (
        post(api, f"/api/v1/pregnancies/{pid}/postpartum-visits", {"visit_on": D, "kind": "home_visit"}).status_code
        == 409
    )
    assert register(api, rid, 6).status_code == 201  # a new pregnancy may be registered


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(app, api, world):
    rid = woman(app, world)
    cases = [
        ({"registered_on": str(D), "last_menstrual_on": str(D + timedelta(days=1))}, "last_menstrual_on"),
        ({"registered_on": str(D), "last_menstrual_on": str(D - timedelta(days=320))}, "last_menstrual_on"),
        (
            {"registered_on": str(D + timedelta(days=2)), "last_menstrual_on": str(D - timedelta(days=60))},
            "registered_on",
        ),
        (
            {"registered_on": str(D), "last_menstrual_on": str(D - timedelta(days=60)), "risk_factors": ["bad"]},
            "risk_factors",
        ),
        (
            {"registered_on": str(D), "last_menstrual_on": str(D - timedelta(days=60)), "gravidity": 1, "parity": 1},
            "parity",
        ),
        ({"last_menstrual_on": str(D - timedelta(days=60))}, "registered_on"),
    ]
    for body, field in cases:
        with frozen(morning(D)):
            r = api.post("a-doc", f"/api/v1/residents/{rid}/pregnancies", json=body)
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)
    man = register(api, world.grandpa, 10)
    assert man.status_code == 422 and "resident_id" in man.json["errors"]
    pid = register(api, rid, 10).json["id"]
    path = f"/api/v1/pregnancies/{pid}/antenatal-visits"
    for body, field in [
        ({"visit_on": D, "sbp": 120}, "dbp"),
        ({"visit_on": D, "sbp": 80, "dbp": 90}, "dbp"),
        ({"visit_on": D, "fundal_height_cm": 300}, "fundal_height_cm"),
        ({"visit_on": D - timedelta(days=1)}, "visit_on"),
        ({"visit_on": D, "urine_protein": "++++"}, "urine_protein"),
    ]:
        r = post(api, path, body)
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)
    bad_delivery = post(
        api,
        f"/api/v1/pregnancies/{pid}/delivery",
        {
            "delivered_on": D,
            "discharged_on": D - timedelta(days=1),
            "outcome": "live_birth",
            "babies": [{"sex": "male"}],
        },
    )
    assert bad_delivery.status_code == 422 and "discharged_on" in bad_delivery.json["errors"]
    no_babies = post(api, f"/api/v1/pregnancies/{pid}/delivery", {"delivered_on": D, "outcome": "live_birth"})
    assert no_babies.status_code == 422 and "babies" in no_babies.json["errors"]
    with frozen(morning(D)):
        [mine] = api.get("a-doc", f"/api/v1/residents/{rid}/pregnancies").json["items"]
    assert (mine["status"], mine["antenatal_visit_count"], mine["births"]) == ("ongoing", 0, [])


def test_other_institutions_get_404_the_woman_reads_her_own_and_every_read_is_logged(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 10).json["id"]
    assert register(api, rid, 10, who="b-doc").status_code == 404
    assert post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": D}, who="b-doc").status_code == 404
    assert post(api, "/api/v1/pregnancies/999999/antenatal-visits", {"visit_on": D}).status_code == 404
    with frozen(morning(D)):
        assert api.get("b-doc", f"/api/v1/residents/{rid}/pregnancies").status_code == 404
        assert api.get("bob", f"/api/v1/residents/{rid}/pregnancies").status_code == 404
        own = api.get("mum", f"/api/v1/residents/{rid}/pregnancies")
        archive = api.get("mum", f"/api/v1/residents/{rid}/archive").json
        doctor = api.get("a-doc", f"/api/v1/residents/{rid}/archive").json
        man = api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive").json
    assert own.status_code == 200 and [p["id"] for p in own.json["items"]] == [pid]
    assert archive["pregnancies"] == doctor["pregnancies"] == own.json["items"]
    assert man["pregnancies"] is None
    with app.app_context():
        reads = db.session.execute(
            select(AccessLog.actor_kind, AccessLog.section)
            .where(AccessLog.subject_resident_id == rid, AccessLog.action == "read")
            .order_by(AccessLog.id)
        ).all()
    assert [tuple(r) for r in reads] == [("resident", "pregnancies"), ("resident", "archive"), ("staff", "archive")]


def test_the_fhir_export_carries_the_pregnancy_and_its_visits(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 10, registered_on=D - timedelta(days=10 * W)).json["id"]
    lmp = D - timedelta(days=20 * W)
    r = post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": lmp + timedelta(days=17 * W), "sbp": 110, "dbp": 70, "fundal_height_cm": 16.5, "fetal_heart_rate": 142})  # fmt: skip
    assert r.status_code == 201, r.json
    with frozen(morning(D)):
        bundle = api.get("a-doc", f"/api/v1/residents/{rid}/archive/fhir").json
    resources = [e["resource"] for e in bundle["entry"]]
    [episode] = [r for r in resources if r["resourceType"] == "EpisodeOfCare" and r["id"].startswith("pregnancy-")]
    assert (episode["status"], episode["type"][0]["text"], episode["period"]["start"]) == (
        "active", "孕产期保健", str(D - timedelta(days=10 * W)),
    )  # fmt: skip
    [encounter] = [r for r in resources if r["resourceType"] == "Encounter"]
    assert encounter["type"][0]["text"] == "第1次产前检查" and encounter["episodeOfCare"]
    codes = {r["code"]["coding"][0]["code"]: r for r in resources if r["resourceType"] == "Observation"}
    assert codes["11778-8"]["valueDateTime"] == str(lmp + timedelta(days=280))
    assert codes["8665-2"]["valueDateTime"] == str(lmp)
    assert (codes["11881-0"]["valueQuantity"]["value"], codes["55283-6"]["valueQuantity"]["value"]) == (16.5, 142)
    assert "85354-9" in codes


def test_visits_are_slotted_in_date_order_and_a_late_last_visit_counts(app, api, world):
    rid = woman(app, world)
    lmp = D - timedelta(days=41 * W)
    pid = register(api, rid, 9, registered_on=lmp + timedelta(days=9 * W)).json["id"]
    path = f"/api/v1/pregnancies/{pid}/antenatal-visits"
    # the 18-week visit is entered before the 10-week one: the 10-week one becomes the first
    assert post(api, path, {"visit_on": lmp + timedelta(days=18 * W)}).json["slot"] == "first"
    assert post(api, path, {"visit_on": lmp + timedelta(days=10 * W)}).json["slot"] == "first"
    # a visit at 41 weeks is the 37–40 weeks visit, late
    assert post(api, path, {"visit_on": lmp + timedelta(days=41 * W)}).json["slot"] == "w37_40"
    with frozen(morning(D)):
        [mine] = api.get("a-doc", f"/api/v1/residents/{rid}/pregnancies").json["items"]
    assert [(v["gestational_age"], v["slot"]) for v in mine["antenatal_visits"]] == [
        ("10+0", "first"), ("18+0", "w16_20"), ("41+0", "w37_40"),
    ]  # fmt: skip
    # a risk found at 30 weeks moves the ordinary 28–36 weeks visit into the high-risk schedule
    pid2 = register(api, woman(app, world, "mum2"), 8, registered_on=D - timedelta(days=24 * W)).json["id"]
    lmp2 = D - timedelta(days=32 * W)
    for week in (8, 30):
        assert post(api, f"/api/v1/pregnancies/{pid2}/antenatal-visits", {"visit_on": lmp2 + timedelta(days=week * W)}).status_code == 201  # fmt: skip
    r = post(api, f"/api/v1/pregnancies/{pid2}/antenatal-visits", {"visit_on": D, "risk_factors": ["anaemia"]})
    assert r.status_code == 201 and r.json["slot"] == "w32_36"
    with frozen(morning(D)):
        [second] = api.get("a-doc", f"/api/v1/residents/{world.mum2}/pregnancies").json["items"]
    assert [v["slot"] for v in second["antenatal_visits"]] == ["first", "w28_31", "w32_36"]


def test_a_woman_who_moved_away_gets_no_new_plans(app, api, world):
    from app.residents.models import Resident

    rid = woman(app, world)
    register(api, rid, 10)
    with app.app_context():
        person = db.session.get(Resident, rid)
        person.status, person.status_changed_on = "moved", D
        db.session.commit()
    for day in (D, D + timedelta(days=1)):
        run(app, plans_job.ensure_plans, day)
    assert maternal_plans(app, rid) == []
    assert [p[1] for p in maternal_plans(app, rid, "closed")] == ["first"]


def test_dates_out_of_order_are_refused(app, api, world):
    rid = woman(app, world)
    pid = register(api, rid, 30, registered_on=D - timedelta(days=10 * W)).json["id"]
    born, home = D - timedelta(days=40), D - timedelta(days=37)
    early = post(api, f"/api/v1/pregnancies/{pid}/delivery", {"delivered_on": D - timedelta(days=11 * W), "outcome": "live_birth", "babies": [{"sex": "male"}]})  # fmt: skip
    assert early.status_code == 422 and "registration" in early.json["errors"]["delivered_on"][0]
    assert post(api, f"/api/v1/pregnancies/{pid}/delivery", {"delivered_on": born, "discharged_on": home, "outcome": "live_birth", "babies": [{"sex": "male"}]}).status_code == 200  # fmt: skip
    path = f"/api/v1/pregnancies/{pid}/postpartum-visits"
    before = post(api, path, {"visit_on": home - timedelta(days=1), "kind": "home_visit"})
    assert before.status_code == 422 and "discharge" in before.json["errors"]["visit_on"][0]
    too_soon = post(api, path, {"visit_on": born + timedelta(days=20), "kind": "day42_check"})
    assert too_soon.status_code == 422 and "42-day check" in too_soon.json["errors"]["visit_on"][0]
    assert post(api, path, {"visit_on": born + timedelta(days=38), "kind": "day42_check"}).status_code == 201
    # registered at 30 weeks 15 weeks ago and never delivered: 45 weeks today
    stale = register(api, woman(app, world, "mum3"), 30, registered_on=D - timedelta(days=15 * W))
    assert stale.status_code == 422 and "45+0 weeks today" in stale.json["errors"]["last_menstrual_on"][0]


def test_each_visit_counts_as_a_delivery_of_the_contracts_item(app, api, world):
    from tests.contracts.helpers import item, make_packages, signed

    rid = woman(app, world)
    pid = register(api, rid, 10, registered_on=D - timedelta(days=30 * W)).json["id"]  # 40 weeks today
    package = {
        "code": "PREG",
        "name": "孕产妇健康服务包",
        "kind": "personalized",
        "populations": ["pregnant"],
        "price": 50,
        "valid_from": "2020-01-01",
        "institution_ids": [world.a],
        "items": [
            {"name": "产前检查", "service_type": "prenatal_check", "times_per_year": 5},
            {"name": "产后访视", "service_type": "postpartum_visit", "times_per_year": 1},
        ],
    }
    with frozen(morning(D)):
        basic = make_packages(api, world)["basic"]
        made = api.post("a-admin", "/api/v1/packages", json=package)
        assert made.status_code == 201, made.json
        contract = signed(api, "a-doc", [rid], world.team_a, [basic["id"], made.json["id"]])
    # the contract runs from today: today's visits count
    assert post(api, f"/api/v1/pregnancies/{pid}/antenatal-visits", {"visit_on": D}).status_code == 201
    body = {"delivered_on": D, "outcome": "live_birth", "babies": [{"sex": "male"}]}
    assert post(api, f"/api/v1/pregnancies/{pid}/delivery", body).status_code == 200
    assert post(api, f"/api/v1/pregnancies/{pid}/postpartum-visits", {"visit_on": D, "kind": "home_visit"}).status_code == 201  # fmt: skip
    with frozen(morning(D)):
        now = api.get("a-doc", f"/api/v1/contracts/{contract['id']}").json
    assert (item(now, "prenatal_check")["delivered"], item(now, "postpartum_visit")["delivered"]) == (1, 1)


def test_a_mother_who_binds_her_archive_after_the_delivery_becomes_the_guardian_then(app, api, world):
    rid = woman(app, world, "late")
    pid = register(api, rid, 9, registered_on=D - timedelta(days=30 * W)).json["id"]
    body = {"delivered_on": D - timedelta(days=2), "outcome": "live_birth", "babies": [{"sex": "male"}]}
    baby = post(api, f"/api/v1/pregnancies/{pid}/delivery", body).json["births"][0]["resident_id"]
    with app.app_context():
        from app.family.models import FamilyGrant

        assert db.session.scalars(select(FamilyGrant).where(FamilyGrant.resident_id == baby)).all() == []
    with frozen(morning(D)):
        family = api.get("late", "/api/v1/me").json["family"]  # her first login binds her archive
        sheet = api.get("late", f"/api/v1/residents/{baby}")
    assert baby in [m["resident_id"] for m in family] and sheet.status_code == 200
