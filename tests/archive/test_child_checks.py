"""Child health checks (0–6 years) through the HTTP API: the kind derived from the age, a check outside
every window refused with the reason, the child's plan in the one plan engine (closed at once, the next
one opened), reminders to the guardian exactly once and withdrawn after the visit, and scope."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.archive import child_schedule
from app.audit.models import AccessLog
from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job, reminders_job
from app.followups.notifications import CHILD_CHECK_DUE
from tests.archive.helpers import add_resident, grant
from tests.followups.helpers import DAY, morning, outbox, plans, run

D = DAY


def baby(app, world, days_old: int, key="baby") -> int:
    """A child of alice's household, of team A (setup only)."""
    from app.residents.models import Resident

    rid = add_resident(app, world, key, "张小宝", world.a, D - timedelta(days=days_old), household_id=world.home)
    with app.app_context():
        db.session.get(Resident, rid).team_id = world.team_a
        db.session.commit()
    return rid


def post_check(api, who, rid, checked_on: date, **fields):
    with frozen(morning(D)):
        return api.post(who, f"/api/v1/residents/{rid}/child-checks", json={"checked_on": str(checked_on), **fields})


def child_plans(app, rid, status="open"):
    return [(p["kind"], p["opens_on"], p["due_on"]) for p in plans(app, rid, status, programmes=("child",))]


def test_the_kind_is_derived_from_the_age_and_a_check_outside_every_window_is_refused(app, api, world):
    rid = baby(app, world, 100)
    r = post_check(api, "a-doc", rid, D, weight_kg=6.4, height_cm=61.5, head_circumference_cm=40.2)
    assert r.status_code == 201, r.json
    assert (r.json["kind"], r.json["label"], r.json["age_days"]) == ("month_3", "3月龄健康检查", 100)
    assert (r.json["weight_kg"], r.json["eye_checked"], r.json["institution"]["id"]) == (6.4, False, world.a)
    again = post_check(api, "a-doc", rid, D - timedelta(days=3))
    assert again.status_code == 409 and again.json["error"] == "already_recorded"

    at_50 = baby(app, world, 50, "baby2")
    refused = post_check(api, "a-doc", at_50, D)
    assert refused.status_code == 422
    [reason] = refused.json["errors"]["checked_on"]
    assert "at 50 days of age no child check is due" in reason
    assert "month_1 is done at 28–35 days" in reason and "month_3 is done at 76–106 days" in reason
    wrong_kind = post_check(api, "a-doc", at_50, D, kind="month_6")
    assert wrong_kind.status_code == 422 and "167–197" in wrong_kind.json["errors"]["kind"][0]
    with app.app_context():
        from app.archive.models import ChildCheck

        assert db.session.scalars(select(ChildCheck.kind).where(ChildCheck.resident_id == at_50)).all() == []


def test_tcm_guidance_only_at_its_ages_and_the_eye_check_is_recorded(app, api, world):
    at_3m, at_6m = baby(app, world, 95), baby(app, world, 185, "baby6")
    tcm = {"tcm_guidance": ["diet", "abdominal_massage"]}
    refused = post_check(api, "a-doc", at_3m, D, **tcm)
    assert refused.status_code == 422 and "tcm_guidance" in refused.json["errors"]
    r = post_check(api, "a-doc", at_6m, D, eye_check={"result": "normal"}, **tcm)
    assert r.status_code == 201, r.json
    assert (r.json["kind"], r.json["tcm_guidance"], r.json["eye_checked"]) == (
        "month_6",
        ["diet", "abdominal_massage"],
        True,
    )
    bad = post_check(api, "a-doc", at_6m, D, weight_kg=600)
    assert bad.status_code == 422 and "weight_kg" in bad.json["errors"]


def test_the_childs_plan_is_the_next_check_closed_at_once_and_the_next_opened(app, api, world):
    rid = baby(app, world, 80)
    born = D - timedelta(days=80)
    run(app, plans_job.ensure_plans, D)
    assert child_plans(app, rid) == [("month_3", born + timedelta(days=76), born + timedelta(days=106))]
    with frozen(morning(D)):
        listed = api.get("a-doc", "/api/v1/worklist", query_string={"programme": "child"}).json["items"]
    assert [(i["resident"]["id"], i["kind"], i["window"]) for i in listed if i["resident"]["id"] == rid] == [
        (rid, "month_3", "due")
    ]
    assert post_check(api, "a-doc", rid, D).status_code == 201
    assert child_plans(app, rid, "done") == [("month_3", born + timedelta(days=76), born + timedelta(days=106))]
    assert child_plans(app, rid) == [("month_6", born + timedelta(days=167), born + timedelta(days=197))]
    with frozen(morning(D)):
        checks = api.get("a-doc", f"/api/v1/residents/{rid}/child-checks").json
    assert [c["kind"] for c in checks["items"]] == ["month_3"]
    schedule = {s["kind"]: s for s in checks["schedule"]}
    assert [s["kind"] for s in checks["schedule"]] == list(child_schedule.KIND_NAMES)
    assert schedule["month_3"]["done_on"] == D.isoformat()
    assert schedule["newborn_visit"]["missed"] and schedule["month_1"]["missed"]
    assert not schedule["month_6"]["missed"]
    # the job keeps it: nothing to lapse, close or open
    counts = run(app, plans_job.ensure_plans, D)
    assert [counts[k] for k in ("child_checks_lapsed", "child_checks_done", "child_checks_opened")] == [0, 0, 0]
    # a missed check lapses when the next window opens
    counts = run(app, plans_job.ensure_plans, born + timedelta(days=228))
    assert counts["child_checks_lapsed"] == 1 and counts["child_checks_opened"] >= 1
    assert child_plans(app, rid) == [("month_8", born + timedelta(days=228), born + timedelta(days=258))]


def test_the_guardian_is_reminded_once_and_the_reminder_withdrawn_after_the_visit(app, api, world):
    rid = baby(app, world, 80)
    with frozen(morning(D)):
        asked = grant(api, "alice", "baby", "child", world)
        assert asked.status_code == 201 and asked.json["status"] == "active", asked.json
    run(app, plans_job.ensure_plans, D)
    for _ in range(3):
        run(app, reminders_job.send_reminders, D, hour=2)
    [row] = outbox(app, CHILD_CHECK_DUE.kind)
    opens = D - timedelta(days=80) + timedelta(days=76)
    assert row["dedup_key"] == f"child:{rid}:to:{world.alice}:open:{opens.isoformat()}"
    assert (row["recipient_kind"], row["recipient_id"]) == ("resident", world.alice)
    assert row["payload"]["body"].startswith("您孩子的儿童健康检查时间到了")
    assert row["status"] == "pending"
    assert post_check(api, "a-doc", rid, D).status_code == 201
    assert [r["status"] for r in outbox(app, CHILD_CHECK_DUE.kind)] == ["skipped"]


def test_the_guardian_reads_the_checks_other_institutions_get_404_and_every_read_is_logged(app, api, world):
    rid = baby(app, world, 100)
    assert post_check(api, "a-doc", rid, D).status_code == 201
    with frozen(morning(D)):
        assert grant(api, "alice", "baby", "child", world).status_code == 201
        assert api.get("alice", f"/api/v1/residents/{rid}/child-checks").status_code == 200
        assert api.get("b-doc", f"/api/v1/residents/{rid}/child-checks").status_code == 404
        assert post_check(api, "b-doc", rid, D - timedelta(days=1)).status_code == 404
        assert api.get("bob", f"/api/v1/residents/{rid}/child-checks").status_code == 404
    with app.app_context():
        reads = db.session.execute(
            select(AccessLog.actor_kind, AccessLog.purpose).where(
                AccessLog.subject_resident_id == rid, AccessLog.section == "child_checks"
            )
        ).all()
    assert reads == [("family", "family_access")]


def test_the_archive_shows_a_childs_checks_to_the_guardian_and_staff_in_scope(app, api, world):
    rid = baby(app, world, 100)
    assert post_check(api, "a-doc", rid, D, weight_kg=6.2).status_code == 201
    with frozen(morning(D)):
        assert grant(api, "alice", "baby", "child", world).status_code == 201
        mother = api.get("alice", f"/api/v1/residents/{rid}/archive").json["child_checks"]
        doctor = api.get("a-doc", f"/api/v1/residents/{rid}/archive").json["child_checks"]
        adult = api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive").json["child_checks"]
        five = api.get("a-doc", f"/api/v1/residents/{world.child}/archive").json["child_checks"]
    assert mother == doctor
    assert (mother["total"], [(c["kind"], c["weight_kg"]) for c in mother["items"]]) == (1, [("month_3", 6.2)])
    assert adult is None  # not a child, and never had a child check
    assert five == {"items": [], "page": 1, "per_page": 10, "total": 0}


def test_the_fhir_export_carries_the_childs_checks(app, api, world):
    rid = baby(app, world, 100)
    assert post_check(api, "a-doc", rid, D, weight_kg=6.2, head_circumference_cm=40.5).status_code == 201
    with frozen(morning(D)):
        bundle = api.get("a-doc", f"/api/v1/residents/{rid}/archive/fhir").json
    resources = [e["resource"] for e in bundle["entry"]]
    [encounter] = [r for r in resources if r["resourceType"] == "Encounter"]
    assert (encounter["type"][0]["text"], encounter["class"]["code"]) == ("3月龄健康检查", "AMB")
    codes = {
        r["code"]["coding"][0]["code"]: r["valueQuantity"]
        for r in resources
        if r["resourceType"] == "Observation" and "valueQuantity" in r
    }
    assert (codes["9843-4"]["value"], codes["9843-4"]["code"]) == (40.5, "cm")
    assert codes["29463-7"]["value"] == 6.2


def test_growth_is_judged_against_the_who_standard(app, api, world):
    rid = baby(app, world, 100)  # a boy of 100 days: WHO median weight about 6.4 kg, length 61 cm
    r = post_check(api, "a-doc", rid, D, weight_kg=4.1, height_cm=61.5, head_circumference_cm=40.5)
    assert r.status_code == 201, r.json
    growth = r.json["growth"]
    assert growth["standard"].startswith("WHO Child Growth Standards 2006")
    assert growth["weight_for_age"]["judgement"] == "low" and growth["weight_for_age"]["z"] < -2
    assert growth["length_for_age"]["judgement"] == "normal" and abs(growth["length_for_age"]["z"]) < 1
    assert growth["head_circumference_for_age"]["judgement"] == "normal"
    # the same judgement wherever the check is shown
    with frozen(morning(D)):
        listed = api.get("a-doc", f"/api/v1/residents/{rid}/child-checks").json["items"][0]["growth"]
        archived = api.get("a-doc", f"/api/v1/residents/{rid}/archive").json["child_checks"]["items"][0]["growth"]
    assert listed == archived == growth
    # nothing measured: no judgement
    older = baby(app, world, 185, "baby6")
    assert post_check(api, "a-doc", older, D).json["growth"] is None


def test_a_newborns_first_visit_is_listed_under_newborn(app, api, world):
    rid = baby(app, world, 3)
    older = baby(app, world, 80, "older")
    run(app, plans_job.ensure_plans, D)
    with frozen(morning(D)):
        newborn = api.get("a-doc", "/api/v1/worklist", query_string={"programme": "newborn"}).json["items"]
        child = api.get("a-doc", "/api/v1/worklist", query_string={"programme": "child"}).json["items"]
    assert [(i["resident"]["id"], i["programme"], i["kind"]) for i in newborn] == [(rid, "newborn", "newborn_visit")]
    listed = {(i["resident"]["id"], i["programme"], i["kind"]) for i in child}
    assert (older, "child", "month_3") in listed and all(i["programme"] == "child" for i in child)
    assert rid not in {i["resident"]["id"] for i in child}
