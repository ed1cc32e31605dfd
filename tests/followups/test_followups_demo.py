"""seed-demo with the "followups" step: a realistic two-year history and one open plan per patient."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job, reminders_job
from app.followups.models import FollowupPlan, FollowupVisit
from app.residents.models import Condition
from tests.factories import keep_demo_steps
from tests.followups.helpers import DAY, chronic, morning, run


def seed(app, monkeypatch):
    keep_demo_steps(monkeypatch, "followups")
    with frozen(morning(DAY)):
        result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "11"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_seeded_history_is_realistic_and_consistent_with_the_rules(app, monkeypatch):
    output = seed(app, monkeypatch)
    assert "Follow-ups:" in output
    with app.app_context():
        patient_diseases = db.session.scalar(
            select(func.count())
            .select_from(Condition)
            .where(Condition.active, Condition.disease.in_(("hypertension", "t2dm")))
        )
        open_plans = db.session.execute(
            select(FollowupPlan.resident_id, FollowupPlan.disease, func.count())
            .where(FollowupPlan.status == "open")
            .group_by(FollowupPlan.resident_id, FollowupPlan.disease)
        ).all()
        visits = db.session.execute(
            select(
                FollowupVisit.visit_on,
                FollowupVisit.method,
                FollowupVisit.classification,
                FollowupVisit.urgent_referral,
                FollowupVisit.referral_suggested,
                FollowupVisit.hypertension,
                FollowupVisit.t2dm,
            )
        ).all()
        plans = db.session.execute(
            select(FollowupPlan.due_on, FollowupPlan.priority).where(FollowupPlan.status == "open")
        ).all()
        shared = db.session.execute(
            select(
                FollowupVisit.resident_id,
                FollowupVisit.medications,
                FollowupVisit.alerts,
                FollowupVisit.urgent_referral,
            )
        ).all()
    # JSON values shared between rows stay each patient's own (the COPY path serialises them once)
    medication_lists: dict = {}
    for resident_id, medications, alerts, urgent in shared:
        medication_lists.setdefault(resident_id, set()).add(repr(medications))
        assert bool(alerts) == urgent
    assert all(len(lists) == 1 for lists in medication_lists.values())
    assert len(open_plans) == patient_diseases and all(n == 1 for *_, n in open_plans)
    assert len(visits) > 5 * patient_diseases * 0.8
    assert min(v.visit_on for v in visits) >= DAY - timedelta(days=730)
    assert max(v.visit_on for v in visits) <= DAY
    share = lambda pred: sum(1 for v in visits if pred(v)) / len(visits)  # noqa: E731
    assert 0.5 < share(lambda v: v.classification == "controlled") < 0.9
    assert 0.1 < share(lambda v: v.classification == "uncontrolled") < 0.45
    assert 0.02 < share(lambda v: v.method == "phone") < 0.15
    assert share(lambda v: v.referral_suggested) > 0
    assert sum(1 for v in visits if v.hypertension and v.t2dm) > 0  # combined visits
    overdue = sum(1 for p in plans if p.due_on < DAY)
    assert 0.05 * len(plans) < overdue < 0.5 * len(plans)
    assert sum(1 for p in plans if p.priority >= 1) > 0
    # the plan job has nothing to add or close: the seed left what the API would have left
    assert chronic(run(app, plans_job.ensure_plans, DAY)) == {
        "closed_inactive": 0,
        "closed_not_managed": 0,
        "opened": 0,
    }
    counts = run(app, reminders_job.send_reminders, DAY)
    assert counts["window_open"] > 0
    assert chronic(run(app, reminders_job.send_reminders, DAY)) == {"window_open": 0, "window_closing": 0}


def test_seeded_district_worklist_answers(app, client, monkeypatch):
    seed(app, monkeypatch)
    r = client.post(
        "/api/v1/auth/staff/login", json={"username": "hc01-doc01", "password": app.config["DEMO_PASSWORD"]}
    )
    assert r.status_code == 200, r.json
    with frozen(morning(DAY)):
        page = client.get(
            "/api/v1/followups/worklist?status=overdue&per_page=5",
            headers={"Authorization": f"Bearer {r.json['access_token']}"},
        )
    assert page.status_code == 200, page.json
    assert page.json["total"] > 0
    days = [item["overdue_days"] for item in page.json["items"] if item["priority"] == 0]
    assert days == sorted(days, reverse=True)
