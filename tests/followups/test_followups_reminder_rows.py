"""The reminder job's outbox rows, field by field, for a small population covering each case:
a window shared by two diseases, two windows opening the same day with different due dates, a
window about to close, a first window, a patient without a team, a disease no longer managed."""

from __future__ import annotations

from datetime import timedelta

from app.common.time import frozen
from app.followups import plans_job, reminders_job
from app.followups.notifications import WINDOW_CLOSING, WINDOW_OPEN
from tests.followups.helpers import (
    DAY,
    add_condition,
    chronic,
    make_resident,
    morning,
    outbox,
    run,
    set_condition_active,
    visit_ok,
)

D = DAY


def opening(resident_id, item, diseases, team, opens_on, due_on):
    return {
        "dedup_key": f"followup:{resident_id}:open:{opens_on.isoformat()}",
        "kind": WINDOW_OPEN.kind,
        "recipient_kind": "resident",
        "recipient_id": resident_id,
        "payload": {
            "title": "慢病随访提醒",
            "body": f"您的{item}时间到了：请于 {due_on.isoformat()} 前到{team}面对面随访（门诊或预约上门）。",
            "item": item,
            "team": team,
            "opens_on": opens_on.isoformat(),
            "due_on": due_on.isoformat(),
            "diseases": diseases,
        },
        "not_before": morning(D, 9),
        "status": "pending",
    }


def closing(resident_id, item, diseases, team, opens_on, due_on):
    row = opening(resident_id, item, diseases, team, opens_on, due_on)
    row.update(dedup_key=f"followup:{resident_id}:closing:{due_on.isoformat()}", kind=WINDOW_CLOSING.kind)
    row["payload"].update(
        title=WINDOW_CLOSING.title, body=f"您的{item}将于 {due_on.isoformat()} 到期，请尽快联系{team}完成随访。"
    )
    return row


def test_reminder_rows_for_a_small_population(app, api, world):
    add_condition(app, world.grandpa, "t2dm")
    sun = make_resident(app, "孙海", world.a, world.team_a, diseases=("hypertension", "t2dm"))
    qian = make_resident(app, "钱芳", world.a, world.team_a, diseases=("hypertension",))
    zhou = make_resident(app, "周强", world.a, None, diseases=("hypertension",))
    wu = make_resident(app, "吴敏", world.a, world.team_a, diseases=("hypertension", "t2dm"))
    with frozen(morning(D)):
        # both diseases at one routine visit: one window D … D+10 for both
        visit_ok(api, "a-doc", world.grandpa, "both", D - timedelta(days=80), sbp=128, dbp=80, fasting_glucose=6.0)
        # routine hypertension (D … D+10), then an uncontrolled glucose a day ago (recheck D … D+13)
        visit_ok(api, "a-doc", sun, "hypertension", D - timedelta(days=80), sbp=128, dbp=80)
        visit_ok(api, "a-doc", sun, "t2dm", D - timedelta(days=1), fasting_glucose=11.0)
        # uncontrolled: recheck window D-10 … D+3, about to close
        visit_ok(api, "a-doc", qian, "hypertension", D - timedelta(days=11), sbp=150, dbp=95)
    run(app, plans_job.ensure_plans, D)  # first windows D … D+30 for bob, 周强 and 吴敏 (both diseases)
    set_condition_active(app, wu, "t2dm", False)

    assert chronic(run(app, reminders_job.send_reminders, D)) == {"window_open": 6, "window_closing": 1}

    team_a, team_b = "鲸园一队", "竹岛一队"
    both, htn, dm = ["hypertension", "t2dm"], ["hypertension"], ["t2dm"]
    expected_open = sorted(
        [
            opening(world.grandpa, "高血压、糖尿病随访", both, team_a, D, D + timedelta(days=10)),
            opening(sun, "高血压、糖尿病随访", both, team_a, D, D + timedelta(days=10)),
            opening(qian, "高血压随访", htn, team_a, D - timedelta(days=10), D + timedelta(days=3)),
            opening(world.bob, "糖尿病随访", dm, team_b, D, D + timedelta(days=30)),
            opening(zhou, "高血压随访", htn, "家庭医生团队", D, D + timedelta(days=30)),
            opening(wu, "高血压随访", htn, team_a, D, D + timedelta(days=30)),
        ],
        key=lambda row: row["recipient_id"],
    )
    expected_closing = [closing(qian, "高血压随访", htn, team_a, D - timedelta(days=10), D + timedelta(days=3))]
    followup = [o for o in outbox(app) if o["kind"].startswith("followup_")]  # the yearly checks: their own tests
    assert followup == expected_open + expected_closing

    assert chronic(run(app, reminders_job.send_reminders, D)) == {"window_open": 0, "window_closing": 0}
    assert chronic(run(app, reminders_job.send_reminders, D + timedelta(days=1))) == {
        "window_open": 0,
        "window_closing": 0,
    }
    assert len([o for o in outbox(app) if o["kind"].startswith("followup_")]) == 7
