"""seed-demo's "checks", "child_checks" and "checkup_plans" steps: the elderly's and the children's
indicators read realistic values near, mostly below, the district table's targets; the archive's three-year comparison has checks to compare;
the plan job finds nothing to add, and the worklist carries the yearly checks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.common.time import frozen
from app.extensions import db
from app.followups import plans_job
from app.followups.models import FollowupPlan
from tests.factories import keep_demo_steps
from tests.followups.helpers import morning, run

DAY = date(2026, 11, 20)  # late in the year: the year-to-date rates are near the year's targets


def test_seeded_checks_follow_the_targets_and_leave_the_plan_job_nothing_to_do(app, client, monkeypatch):
    keep_demo_steps(monkeypatch, "followups", "checks", "child_checks", "checkup_plans", "targets")
    with frozen(morning(DAY)):
        result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.02", "--seed", "5"])
        assert result.exit_code == 0, result.output + repr(result.exception)
        assert "Health checks:" in result.output and "Plans of the yearly checks" in result.output
        token = client.post(
            "/api/v1/auth/staff/login", json={"username": "admin", "password": app.config["DEMO_PASSWORD"]}
        ).json["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        rows = client.get(
            "/api/v1/indicators",
            headers=auth,
            query_string={
                "indicator": "elderly_health_management,elderly_tcm,under7_health_management,"
                "child_eye_check,under3_systematic_management,child_tcm"
            },
        ).json["rows"]
    district = {r["indicator"]: r for r in rows if r["scope"] == "total"}
    for key, target in (
        ("elderly_health_management", 0.64),
        ("elderly_tcm", 0.74),
        ("under7_health_management", 0.90),
        ("child_eye_check", 0.90),
        ("under3_systematic_management", 0.80),
        ("child_tcm", 0.84),
    ):
        row = district[key]
        assert row["denominator"] > 50, row
        # the demo seeds from 1 January to the seed day: near the year's target, mostly below
        assert target * 0.75 < row["rate"] < target * 1.03, row
    centres = [r for r in rows if r["scope"] == "child" and r["indicator"] == "elderly_health_management"]
    assert sum(1 for r in centres if r["met"] is False) >= len(centres) // 2
    counts = run(app, plans_job.ensure_plans, DAY)
    assert {k: v for k, v in counts.items() if k.startswith(("checkup", "child"))} == {
        "checkups_lapsed": 0,
        "checkups_done": 0,
        "checkups_not_eligible": 0,
        "checkups_opened": 0,
        "child_checks_lapsed": 0,
        "child_checks_done": 0,
        "child_checks_opened": 0,
    }
    with app.app_context():
        open_checks = db.session.scalar(
            select(db.func.count())
            .select_from(FollowupPlan)
            .where(FollowupPlan.status == "open", FollowupPlan.disease == "elderly_check")
        )
    elderly_denominator = district["elderly_health_management"]["denominator"]
    numerator = district["elderly_health_management"]["numerator"]
    # everyone 65+ not yet checked this year has an open plan (the few who turned 65 after their check
    # day are neither)
    assert abs(open_checks - (elderly_denominator - numerator)) <= 0.02 * elderly_denominator
