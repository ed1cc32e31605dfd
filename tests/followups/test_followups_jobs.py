"""The daily jobs: plans for every managed patient, reminders once per window, the team digest."""

from __future__ import annotations

from datetime import date, timedelta

from app.common.time import frozen
from app.followups import digest_job, plans_job, reminders_job
from app.followups.notifications import TEAM_DIGEST, WINDOW_CLOSING, WINDOW_OPEN
from app.notify.dispatcher import drain
from tests.followups.helpers import (
    DAY,
    add_condition,
    chronic,
    make_resident,
    morning,
    outbox,
    plans,
    run,
    set_condition_active,
    visit_ok,
)

D = DAY


def snapshot(app):
    return [
        (
            p["id"],
            p["resident_id"],
            p["disease"],
            p["opens_on"],
            p["due_on"],
            p["status"],
            p["reason"],
            p["priority"],
            p["close_reason"],
        )
        for p in plans(app)
    ]


def grant(api, who, template, times=1):
    for _ in range(times):
        r = api.post(who, "/api/v1/me/subscriptions", json={"accepted": [template.template_id]})
        assert r.status_code == 200, r.json


# --- plans ---------------------------------------------------------------------------------------


def test_plan_job_gives_every_managed_patient_one_open_plan_and_is_idempotent(app, world):
    assert chronic(run(app, plans_job.ensure_plans, D)) == {"closed_inactive": 0, "closed_not_managed": 0, "opened": 2}
    rows = plans(app)
    assert sorted((p["resident_id"], p["disease"], p["opens_on"], p["due_on"], p["reason"]) for p in rows) == sorted(
        [
            (world.grandpa, "hypertension", D, D + timedelta(days=30), "first"),
            (world.bob, "t2dm", D, D + timedelta(days=30), "first"),
        ]
    )
    before = snapshot(app)
    assert chronic(run(app, plans_job.ensure_plans, D)) == {"closed_inactive": 0, "closed_not_managed": 0, "opened": 0}
    assert chronic(run(app, plans_job.ensure_plans, D + timedelta(days=1))) == {
        "closed_inactive": 0,
        "closed_not_managed": 0,
        "opened": 0,
    }
    assert snapshot(app) == before


def test_plan_job_leaves_plans_made_by_visits_alone(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    before = snapshot(app)
    assert run(app, plans_job.ensure_plans, D)["opened"] == 1  # only bob's
    assert [row for row in snapshot(app) if row[1] == world.grandpa] == before


def test_plan_job_restarts_management_from_the_last_face_to_face_visit(app, api, world):
    with frozen(morning(D - timedelta(days=100))):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=100), sbp=150, dbp=95)
    with frozen(morning(D - timedelta(days=95))):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=95), sbp=150, dbp=95, method="phone")
    set_condition_active(app, world.grandpa, "hypertension", False)
    assert run(app, plans_job.ensure_plans, D)["closed_not_managed"] == 1
    set_condition_active(app, world.grandpa, "hypertension", True)
    assert run(app, plans_job.ensure_plans, D + timedelta(days=1))["opened"] == 1
    [plan] = plans(app, world.grandpa, "open")
    # the clinic visit was uncontrolled: a recheck window from that visit (overdue by now)
    assert (plan["opens_on"], plan["due_on"], plan["reason"]) == (
        D - timedelta(days=99),
        D - timedelta(days=86),
        "recheck",
    )


def test_moving_away_or_dying_closes_plans_and_drops_the_patient_at_once(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=100), sbp=128, dbp=80)
        assert api.get("a-doc", "/api/v1/followups/worklist").json["total"] == 1
        assert api.patch("a-doc", f"/api/v1/residents/{world.grandpa}", json={"status": "moved"}).status_code == 200
        # before any job runs: gone from the worklist and the resident's open plan
        assert api.get("a-doc", "/api/v1/followups/worklist").json["total"] == 0
        assert api.get("a-doc", f"/api/v1/residents/{world.grandpa}/followups").json["open_plan"] is None
        assert api.patch("b-doc", f"/api/v1/residents/{world.bob}", json={"status": "deceased"}).status_code == 200
    assert chronic(run(app, reminders_job.send_reminders, D)) == {"window_open": 0, "window_closing": 0}
    counts = run(app, plans_job.ensure_plans, D)
    assert chronic(counts) == {"closed_inactive": 1, "closed_not_managed": 0, "opened": 0}
    assert [(p["status"], p["close_reason"], p["closed_on"]) for p in plans(app, world.grandpa)] == [
        ("closed", "moved", D)
    ]
    assert plans(app, world.bob) == []  # never had one, and gets none now
    assert chronic(run(app, plans_job.ensure_plans, D)) == {"closed_inactive": 0, "closed_not_managed": 0, "opened": 0}


def test_deceased_patient_plan_is_closed_as_deceased(app, api, world):
    run(app, plans_job.ensure_plans, D)
    with frozen(morning(D)):
        api.patch("b-doc", f"/api/v1/residents/{world.bob}", json={"status": "deceased"})
    assert run(app, plans_job.ensure_plans, D + timedelta(days=1))["closed_inactive"] == 1
    assert [(p["status"], p["close_reason"]) for p in plans(app, world.bob)] == [("closed", "deceased")]


def test_a_deactivated_condition_ends_management(app, api, world):
    run(app, plans_job.ensure_plans, D)
    set_condition_active(app, world.grandpa, "hypertension", False)
    with frozen(morning(D + timedelta(days=5))):
        assert api.get("a-doc", "/api/v1/followups/worklist").json["total"] == 0
    assert chronic(run(app, plans_job.ensure_plans, D + timedelta(days=5))) == {
        "closed_inactive": 0,
        "closed_not_managed": 1,
        "opened": 0,
    }
    assert [p["close_reason"] for p in plans(app, world.grandpa)] == ["not_managed"]


# --- reminders -----------------------------------------------------------------------------------


def test_reminder_is_enqueued_once_per_window_and_delivered_once(app, api, world, wechat_sandbox):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
        grant(api, "grandpa", WINDOW_OPEN, times=3)
    opens = D + timedelta(days=80)
    assert chronic(run(app, reminders_job.send_reminders, opens - timedelta(days=1))) == {
        "window_open": 0,
        "window_closing": 0,
    }
    for _ in range(3):
        run(app, reminders_job.send_reminders, opens)
    rows = outbox(app, WINDOW_OPEN.kind)
    assert [r["dedup_key"] for r in rows] == [f"followup:{world.grandpa}:open:{opens.isoformat()}"]
    payload = rows[0]["payload"]
    assert (payload["item"], payload["due_on"], payload["team"]) == (
        "高血压随访",
        (D + timedelta(days=90)).isoformat(),
        "鲸园一队",
    )
    with frozen(morning(opens)):
        with app.app_context():
            drain()
            drain()
        run(app, reminders_job.send_reminders, opens + timedelta(days=1))
        with app.app_context():
            drain()
    sent = wechat_sandbox.messages(touser="grandpa")
    assert len(sent) == 1
    assert sent[0]["data"]["thing1"]["value"] == "高血压随访"
    assert sent[0]["template_id"] == WINDOW_OPEN.template_id
    inbox = api.get("grandpa", "/api/v1/me/messages").json["items"]
    assert [m["title"] for m in inbox] == ["慢病随访提醒"]


def test_reminders_never_fire_at_night(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    opens = D + timedelta(days=80)
    run(app, reminders_job.send_reminders, opens, hour=2)
    [row] = outbox(app, WINDOW_OPEN.kind)
    assert row["not_before"] == morning(opens, 9)


def test_closing_reminder_three_days_before_the_due_date(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=150, dbp=95)  # window D+1 … D+14
    due = D + timedelta(days=14)
    assert run(app, reminders_job.send_reminders, due - timedelta(days=4))["window_closing"] == 0
    for offset in (3, 2, 0):
        run(app, reminders_job.send_reminders, due - timedelta(days=offset))
    assert [r["dedup_key"] for r in outbox(app, WINDOW_CLOSING.kind)] == [
        f"followup:{world.grandpa}:closing:{due.isoformat()}"
    ]
    assert [r["dedup_key"] for r in outbox(app, WINDOW_OPEN.kind)] == [
        f"followup:{world.grandpa}:open:{(D + timedelta(days=1)).isoformat()}"
    ]
    # overdue: nothing more
    assert chronic(run(app, reminders_job.send_reminders, due + timedelta(days=1))) == {
        "window_open": 0,
        "window_closing": 0,
    }


def test_a_patient_with_both_diseases_gets_one_message_for_a_shared_window(app, api, world):
    add_condition(app, world.grandpa, "t2dm")
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "both", D, sbp=128, dbp=80, fasting_glucose=6.0)
    run(app, reminders_job.send_reminders, D + timedelta(days=80))
    [row] = outbox(app, WINDOW_OPEN.kind)
    assert row["payload"]["item"] == "高血压、糖尿病随访"
    assert row["payload"]["diseases"] == ["hypertension", "t2dm"]


def test_a_new_window_after_a_visit_gets_its_own_reminder(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    opens = D + timedelta(days=80)
    run(app, reminders_job.send_reminders, opens)
    with frozen(morning(opens + timedelta(days=2))):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", opens + timedelta(days=2), sbp=150, dbp=95)
    run(app, reminders_job.send_reminders, opens + timedelta(days=3))
    assert [r["dedup_key"] for r in outbox(app, WINDOW_OPEN.kind)] == [
        f"followup:{world.grandpa}:open:{opens.isoformat()}",
        f"followup:{world.grandpa}:open:{(opens + timedelta(days=3)).isoformat()}",
    ]


def test_no_reminder_for_a_deactivated_condition(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    set_condition_active(app, world.grandpa, "hypertension", False)
    assert chronic(run(app, reminders_job.send_reminders, D + timedelta(days=80))) == {
        "window_open": 0,
        "window_closing": 0,
    }


# --- the morning digest --------------------------------------------------------------------------


def test_team_digest_goes_to_each_member_once_a_day(app, api, world):
    other = make_resident(app, "孙海", world.a, world.team_a, diseases=("t2dm",))
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=100), sbp=128, dbp=80)  # overdue 10
        visit_ok(api, "a-doc", other, "t2dm", D - timedelta(days=85), fasting_glucose=6.0)  # due in 5
    run(app, plans_job.ensure_plans, D)  # bob (team B) gets a first plan, due now
    assert run(app, digest_job.team_digest, D, hour=7) == {"teams": 2, "enqueued": 3}
    assert run(app, digest_job.team_digest, D, hour=8) == {"teams": 2, "enqueued": 0}
    rows = outbox(app, TEAM_DIGEST.kind)
    team_a_rows = [r for r in rows if r["payload"]["team_id"] == world.team_a]
    assert sorted(r["recipient_id"] for r in team_a_rows) == sorted([world.a_doc, world.a_nurse])
    payload = team_a_rows[0]["payload"]
    assert (payload["due"], payload["overdue"]) == (1, 1)
    assert [(p["name"], p["overdue_days"]) for p in payload["top"]] == [("张建国", 10), ("孙海", 0)]
    with frozen(morning(D, 9)), app.app_context():
        drain()
    inbox = api.get("a-doc", "/api/v1/me/messages").json["items"]
    assert [m["title"] for m in inbox] == ["今日随访工作清单"]
    assert "张建国（高血压，逾期10天）" in inbox[0]["body"]
    assert run(app, digest_job.team_digest, D + timedelta(days=1), hour=7)["enqueued"] == 3


def test_no_digest_for_a_team_with_nothing_due(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    assert run(app, digest_job.team_digest, D, hour=7) == {"teams": 0, "enqueued": 0}


def test_jobs_run_from_the_scheduler_cli(app, world):
    """The functions need no argument: `flask scheduler run-once` freezes the clock and calls them."""
    with frozen(morning(date(2026, 5, 1))), app.app_context():
        assert plans_job.ensure_plans()["opened"] == 2
        assert reminders_job.send_reminders()["window_open"] == 2
    assert plans(app)[0]["opens_on"] == date(2026, 5, 1)
