"""seed-demo with the "contacts" and "referrals" steps: contact histories on the overdue worklist entries, referrals in
every state, and the outreach / referral indicators with numbers — read through the HTTP API as the
demo accounts would."""

from __future__ import annotations

from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.followups.models import REFERRAL_CHASE, REFERRAL_RETURN, ContactAttempt, FollowupPlan
from app.orgs.models import Institution, Team
from app.referrals.models import STATUSES, Referral
from tests.factories import keep_demo_steps
from tests.followups.helpers import DAY, morning


def _login(app, client, username: str) -> dict:
    r = client.post("/api/v1/auth/staff/login", json={"username": username, "password": app.config["DEMO_PASSWORD"]})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def _get(client, headers, path):
    with frozen(morning(DAY)):
        r = client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.json)
    return r.json


def test_the_demo_district_shows_contacts_referrals_and_their_indicators(app, client, monkeypatch):
    keep_demo_steps(monkeypatch, "followups", "checks", "child_checks", "checkup_plans", "contacts", "referrals")
    with frozen(morning(DAY)):
        result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "11"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Contacts:" in result.output and "Referrals:" in result.output
    with app.app_context():
        teams = db.session.scalars(select(Team.id).order_by(Team.id)).all()
        centre_admins = [
            f"{code.lower()}-admin"
            for code in db.session.scalars(
                select(Institution.code).where(Institution.level == 3).order_by(Institution.code)
            )
        ]
        # the partial unique index held: at most one open plan per resident and programme
        doubled = db.session.execute(
            select(FollowupPlan.resident_id, FollowupPlan.disease)
            .where(FollowupPlan.status == "open")
            .group_by(FollowupPlan.resident_id, FollowupPlan.disease)
            .having(func.count() > 1)
        ).all()
        assert doubled == []
        # what the services leave: an up referral without an answer is chased, a return not yet
        # followed up is owed within 2 weeks
        unresolved = set(
            db.session.scalars(
                select(Referral.resident_id).where(
                    Referral.direction == "up", Referral.status.in_(("issued", "received"))
                )
            )
        )
        chased = set(
            db.session.scalars(
                select(FollowupPlan.resident_id).where(
                    FollowupPlan.disease == REFERRAL_CHASE, FollowupPlan.status == "open"
                )
            )
        )
        assert unresolved and chased == unresolved
        owed = set(
            db.session.scalars(
                select(Referral.resident_id).where(Referral.back_on.is_not(None), Referral.followed_up_on.is_(None))
            )
        )
        returns = set(
            db.session.scalars(
                select(FollowupPlan.resident_id).where(
                    FollowupPlan.disease == REFERRAL_RETURN, FollowupPlan.status == "open"
                )
            )
        )
        assert returns == owed
        # a call-later entry is off the worklists until the call-back day
        snoozed = db.session.execute(
            select(ContactAttempt.call_back_on, FollowupPlan.snoozed_until)
            .join(FollowupPlan, FollowupPlan.id == ContactAttempt.plan_id)
            .where(
                ContactAttempt.outcome == "call_later", FollowupPlan.status == "open", ContactAttempt.call_back_on > DAY
            )
        ).all()
        assert snoozed and all(until == call_back for call_back, until in snoozed)
        assert db.session.scalar(select(func.count()).where(ContactAttempt.due_on >= ContactAttempt.contacted_on)) == 0

    admin = _login(app, client, "admin")
    # the chase entries of referrals without feedback, on some team's worklist
    chase = [len(_get(client, admin, f"/api/v1/worklist?team_id={t}&programme=referral")["items"]) for t in teams]
    assert sum(chase) > 0
    # referrals in every state, across the teams
    by_status = {
        status: sum(_get(client, admin, f"/api/v1/referrals?team_id={t}&status={status}")["total"] for t in teams)
        for status in STATUSES
    }
    assert all(by_status[s] > 0 for s in STATUSES), by_status
    returned = _get(client, admin, f"/api/v1/referrals?team_id={teams[0]}&status=returned&per_page=100")["items"]
    assert returned and all(item["summary"] and item["return_followup_due_on"] for item in returned)
    # the overdue entries show their last contact
    with_contact = 0
    for team_id in teams:
        page = _get(client, admin, f"/api/v1/worklist?team_id={team_id}&status=overdue&per_page=100")
        with_contact += sum(1 for item in page["items"] if item["last_contact"] is not None)
    assert with_contact > 0
    # moved away / died reports wait for an institution admin's review
    pending = 0
    for username in centre_admins:
        page = _get(client, _login(app, client, username), "/api/v1/contact-reviews")
        assert all(item["review_status"] == "pending" for item in page["items"])
        assert all(item["outcome"] in ("moved_away", "died") for item in page["items"])
        pending += page["total"]
    assert pending > 0
    # the indicators have numbers: contacted patients came back, hospitals answered
    report = _get(client, admin, "/api/v1/indicators?indicator=return_to_care_15d,referral_feedback,overdue_contacted")
    assert report["as_of"] <= DAY.isoformat()
    totals = {row["indicator"]: row for row in report["rows"] if row["scope"] == "total"}
    for key in ("return_to_care_15d", "referral_feedback", "overdue_contacted"):
        assert totals[key]["numerator"] > 0 and totals[key]["denominator"] >= totals[key]["numerator"], totals[key]
