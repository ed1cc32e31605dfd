"""The yearly checks as plans of the one plan engine: the elderly's health check and TCM service, the
certified disabled's health check — opened by the daily job, fulfilled by the record (at once through
the API, or by the job for records that came in otherwise), lapsed at the year's end, reminded exactly
once and withdrawn when done, and listed with the chronic plans on ``GET /api/v1/worklist``."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.archive import child_schedule
from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job, reminders_job
from app.followups.models import CHECK_PROGRAMMES
from app.followups.notifications import CHECKUP_DUE
from app.notify.dispatcher import drain
from app.residents.models import Resident
from tests.archive.helpers import check, record
from tests.followups.helpers import DAY, make_resident, morning, outbox, plans, run, visit_ok

D = DAY  # 2026-03-10
TCM = {"tcm": {"constitution": ["qi_deficiency"], "guidance": ["diet", "exercise"]}}


def checkups(app, resident_id=None, status=None):
    return plans(app, resident_id, status, programmes=CHECK_PROGRAMMES)


def windows(app, resident_id, status="open"):
    return sorted((p["disease"], p["opens_on"], p["due_on"], p["reason"]) for p in checkups(app, resident_id, status))


def worklist(api, who, **query):
    with frozen(morning(D)):
        r = api.get(who, "/api/v1/worklist", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def test_the_job_opens_a_yearly_plan_for_each_programme_a_resident_is_in(app, api, world):
    disabled = make_resident(app, "孙残", world.a, world.team_a, birth_on=date(1980, 2, 2), disabled_certified=True)
    disabled_elderly = make_resident(
        app, "钱老", world.a, world.team_a, birth_on=date(1948, 2, 2), disabled_certified=True
    )
    with frozen(morning(D)):  # a check last year: this year's is due on its anniversary
        check(api, "a-doc", world.grandpa, date(2025, 6, 20))
    counts = run(app, plans_job.ensure_plans, D)
    assert counts["checkups_opened"] == 5
    first = D + timedelta(days=90)  # never checked: within a quarter
    assert windows(app, world.grandpa) == [
        ("elderly_check", D, date(2026, 6, 20), "routine"),
        ("elderly_tcm", D, first, "first"),
    ]
    assert windows(app, disabled) == [("disabled_check", D, first, "first")]
    # 65 or over: the elderly check is the disabled resident's yearly check too (one plan for it)
    assert windows(app, disabled_elderly) == [("elderly_check", D, first, "first"), ("elderly_tcm", D, first, "first")]
    # nobody else: a 45-year-old, a child, a 51-year-old
    assert checkups(app, world.alice) == checkups(app, world.child) == checkups(app, world.bob) == []
    before = checkups(app)
    assert {k: v for k, v in run(app, plans_job.ensure_plans, D).items() if k.startswith("checkup")} == {
        "checkups_lapsed": 0,
        "checkups_done": 0,
        "checkups_not_eligible": 0,
        "checkups_opened": 0,
    }
    assert checkups(app) == before


def test_a_check_recorded_through_the_api_fulfils_its_plans_at_once(app, api, world):
    run(app, plans_job.ensure_plans, D)
    assert {i["programme"] for i in worklist(api, "a-doc")["items"] if i["resident"]["id"] == world.grandpa} == {
        "hypertension",
        "elderly_check",
        "elderly_tcm",
    }
    with frozen(morning(D)):
        check(api, "a-doc", world.grandpa, D - timedelta(days=2), sbp=132, dbp=80)
    listed = {i["programme"] for i in worklist(api, "a-doc")["items"] if i["resident"]["id"] == world.grandpa}
    assert listed == {"hypertension", "elderly_tcm"}
    [done] = checkups(app, world.grandpa, "done")
    assert (done["disease"], done["closed_on"], done["close_reason"]) == (
        "elderly_check",
        D - timedelta(days=2),
        "visit",
    )
    with frozen(morning(D)):
        record(api, "a-doc", world.grandpa, "tcm", D, **TCM)
    assert windows(app, world.grandpa) == []
    # done for the year: the job opens nothing more until 1 January
    assert run(app, plans_job.ensure_plans, D + timedelta(days=30))["checkups_opened"] == 0
    assert windows(app, world.grandpa) == []


def test_a_late_entry_of_last_years_check_does_not_fulfil_this_years_plan(app, api, world):
    run(app, plans_job.ensure_plans, D)
    with frozen(morning(D)):
        check(api, "a-doc", world.grandpa, date(2025, 11, 3))
    assert [w[0] for w in windows(app, world.grandpa)] == ["elderly_check", "elderly_tcm"]


def test_the_job_closes_a_plan_whose_check_came_in_another_way(app, world):
    from app.archive.models import HealthCheck

    run(app, plans_job.ensure_plans, D)
    with app.app_context():  # e.g. an import: no event announced it
        db.session.add(HealthCheck(resident_id=world.grandpa, checked_on=D, institution_id=world.a1))
        db.session.commit()
    assert run(app, plans_job.ensure_plans, D + timedelta(days=1))["checkups_done"] == 1
    [done] = checkups(app, world.grandpa, "done")
    assert (done["disease"], done["closed_on"]) == ("elderly_check", D)


def test_an_open_plan_lapses_at_the_years_end_and_the_new_year_opens_its_own(app, api, world):
    run(app, plans_job.ensure_plans, D)
    new_year = date(D.year + 1, 1, 1)
    counts = run(app, plans_job.ensure_plans, new_year)
    assert counts["checkups_lapsed"] == 2 and counts["checkups_opened"] == 2
    lapsed = checkups(app, world.grandpa, "closed")
    assert sorted((p["disease"], p["close_reason"], p["opens_on"]) for p in lapsed) == [
        ("elderly_check", "lapsed", D),
        ("elderly_tcm", "lapsed", D),
    ]
    assert [(w[0], w[1]) for w in windows(app, world.grandpa)] == [
        ("elderly_check", new_year),
        ("elderly_tcm", new_year),
    ]


def test_a_withdrawn_certificate_or_a_closed_archive_closes_the_plan(app, api, world):
    disabled = make_resident(app, "孙残", world.a, world.team_a, birth_on=date(1980, 2, 2), disabled_certified=True)
    run(app, plans_job.ensure_plans, D)
    with frozen(morning(D)):
        r = api.patch("a-doc", f"/api/v1/residents/{disabled}", json={"disabled_certified": False})
        assert r.status_code == 200, r.json
        assert api.patch("a-doc", f"/api/v1/residents/{world.grandpa}", json={"status": "deceased"}).status_code == 200
    # gone from the worklist before any job runs (the archive is closed); the job closes the plans
    assert {i["resident"]["id"] for i in worklist(api, "a-doc")["items"]} & {world.grandpa} == set()
    counts = run(app, plans_job.ensure_plans, D + timedelta(days=1))
    assert counts["checkups_not_eligible"] == 1
    assert [(p["disease"], p["close_reason"]) for p in checkups(app, disabled, "closed")] == [
        ("disabled_check", "not_managed")
    ]
    assert {p["close_reason"] for p in checkups(app, world.grandpa, "closed")} == {"deceased"}


# --- reminders --------------------------------------------------------------------------------------


def test_one_reminder_names_both_checks_exactly_once_and_reaches_wechat(app, api, world, wechat_sandbox):
    with frozen(morning(D)):
        r = api.post("grandpa", "/api/v1/me/subscriptions", json={"accepted": [CHECKUP_DUE.template_id]})
        assert r.status_code == 200, r.json
    run(app, plans_job.ensure_plans, D)
    for _ in range(3):
        run(app, reminders_job.send_reminders, D)
    [row] = outbox(app, CHECKUP_DUE.kind)
    assert row["dedup_key"] == f"checkup:{world.grandpa}:open:{D.isoformat()}"
    assert row["payload"]["item"] == "老年人健康体检、中医体质辨识"
    assert row["payload"]["programmes"] == ["elderly_check", "elderly_tcm"]
    assert row["payload"]["due_on"] == (D + timedelta(days=90)).isoformat()
    with frozen(morning(D)), app.app_context():
        drain()
        drain()
    sent = [m for m in wechat_sandbox.messages(touser="grandpa") if m["template_id"] == CHECKUP_DUE.template_id]
    assert len(sent) == 1 and sent[0]["data"]["thing1"]["value"].startswith("老年人健康体检")
    assert "年度健康体检提醒" in [m["title"] for m in api.get("grandpa", "/api/v1/me/messages").json["items"]]


def test_a_pending_reminder_is_withdrawn_once_every_check_is_done(app, api, world, wechat_sandbox):
    with frozen(morning(D)):
        api.post("grandpa", "/api/v1/me/subscriptions", json={"accepted": [CHECKUP_DUE.template_id]})
    run(app, plans_job.ensure_plans, D)
    run(app, reminders_job.send_reminders, D, hour=2)  # made at night, to go out at 09:00
    with frozen(morning(D, 8)):
        check(api, "a-doc", world.grandpa, D)
        assert outbox(app, CHECKUP_DUE.kind)[0]["status"] == "pending"  # the TCM service is still due
        record(api, "a-doc", world.grandpa, "tcm", D, **TCM)
    [row] = outbox(app, CHECKUP_DUE.kind)
    assert row["status"] == "skipped"
    with frozen(morning(D, 10)), app.app_context():
        drain()
    assert [m for m in wechat_sandbox.messages(touser="grandpa") if m["template_id"] == CHECKUP_DUE.template_id] == []


# --- the worklist of every programme ---------------------------------------------------------------


def test_every_programme_on_one_worklist_in_urgency_order(app, api, world):
    with frozen(morning(D)):  # an uncontrolled visit: the hypertension recheck is due in 2 weeks
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=30), sbp=150, dbp=95)
    run(app, plans_job.ensure_plans, D)
    body = worklist(api, "a-doc")
    keys = ["plan_id", "programme", "kind", "resident", "opens_on", "due_on", "overdue_days", "window"]
    assert list(body["items"][0])[: len(keys)] == keys
    items = [(i["programme"], i["kind"], i["due_on"], i["overdue_days"]) for i in body["items"]]
    # the five-year-old's plan is the 4-year check, overdue since its window closed (the 5-year
    # window has not opened): the most overdue comes first
    with app.app_context():
        born = db.session.get(Resident, world.child).birth_on
    year_4 = born + timedelta(days=child_schedule.BY_KIND["year_4"].due_day)
    assert items == [
        ("child", "year_4", year_4.isoformat(), (D - year_4).days),
        ("hypertension", "followup", (D - timedelta(days=16)).isoformat(), 16),
        ("elderly_check", "health_check", (D + timedelta(days=90)).isoformat(), 0),
        ("elderly_tcm", "tcm", (D + timedelta(days=90)).isoformat(), 0),
    ]
    assert body["total"] == 4 and body["team_ids"] == [world.team_a]
    only = worklist(api, "a-doc", programme="elderly_tcm")
    assert [i["programme"] for i in only["items"]] == ["elderly_tcm"] and only["total"] == 1
    assert worklist(api, "a-doc", status="overdue")["total"] == 2  # the child's and the recheck
    # the chronic worklist keeps its answer: the follow-up plans only
    with frozen(morning(D)):
        chronic = api.get("a-doc", "/api/v1/followups/worklist").json
    assert [i["disease"] for i in chronic["items"]] == ["hypertension"] and chronic["total"] == 1


def test_the_worklist_logs_each_resident_and_refuses_other_teams_and_bad_filters(app, api, world):
    from app.audit.models import AccessLog

    run(app, plans_job.ensure_plans, D)
    worklist(api, "a-doc")
    with app.app_context():
        logged = db.session.execute(
            select(AccessLog.subject_resident_id, AccessLog.purpose).where(AccessLog.section == "worklist")
        ).all()
    # one row per resident listed (the child's check, grandpa's two checks and his follow-up)
    assert sorted(logged) == sorted([(world.child, "care"), (world.grandpa, "care")])
    with frozen(morning(D)):
        assert api.get("b-doc", "/api/v1/worklist", query_string={"team_id": world.team_a}).status_code == 404
        bad = api.get("a-doc", "/api/v1/worklist", query_string={"programme": "dentistry"})
        assert bad.status_code == 422 and "programme" in bad.json["errors"]
        assert api.get("grandpa", "/api/v1/worklist").status_code == 403


# --- the resident's side --------------------------------------------------------------------------


def test_me_lists_what_is_due_for_me_and_the_family_i_may_view(app, api, world):
    from app.audit.models import AccessLog
    from tests.archive.helpers import grant

    run(app, plans_job.ensure_plans, D)
    with frozen(morning(D)):
        asked = grant(api, "alice", "grandpa", "parent", world)
        assert asked.status_code == 201, asked.json
        assert api.get("alice", "/api/v1/me").json["due"] == []  # not accepted yet: nothing of his
        accepted = api.post("grandpa", f"/api/v1/me/family/requests/{asked.json['grant_id']}/accept")
        assert accepted.status_code == 200, accepted.json
        due = api.get("alice", "/api/v1/me").json["due"]
        own = api.get("grandpa", "/api/v1/me").json["due"]
    assert [(d["resident_id"], d["name"], d["programme"], d["kind"], d["window"]) for d in due] == [
        (world.grandpa, "张建国", "hypertension", "followup", "due"),
        (world.grandpa, "张建国", "elderly_check", "health_check", "due"),
        (world.grandpa, "张建国", "elderly_tcm", "tcm", "due"),
    ]
    assert [d["due_on"] for d in due] == [
        (D + timedelta(days=30)).isoformat(),
        (D + timedelta(days=90)).isoformat(),
        (D + timedelta(days=90)).isoformat(),
    ]
    assert own == due
    with app.app_context():
        logged = db.session.execute(
            select(AccessLog.actor_kind, AccessLog.subject_resident_id, AccessLog.purpose).where(
                AccessLog.section == "due_plans"
            )
        ).all()
    assert logged == [("family", world.grandpa, "family_access")]  # his own reading is self access
