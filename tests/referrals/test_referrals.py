"""Two-way referral through the HTTP API: the lifecycle, the chase entry on the worklist, the
follow-up within 2 weeks of a return, the team leader's notice of an urgent one, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.followups import reminders_job
from app.notify.models import Outbox
from app.referrals.models import Referral
from tests.followups.helpers import DAY, make_resident, morning, outbox, run, visit_ok
from tests.notify.helpers import dispatch

D = DAY
HOSPITAL = "威海市立医院"


def issue(api, who, rid, day=D, **body):
    body = {"resident_id": rid, "direction": "up", "to_hospital_name": HOSPITAL, "reason": "血压控制不满意"} | body
    body = {k: v for k, v in body.items() if v is not ...}  # ``...``: leave the field out
    with frozen(morning(day)):
        return api.post(who, "/api/v1/referrals", json=body)


def act(api, who, referral_id, step, day=D, **body):
    with frozen(morning(day)):
        return api.post(who, f"/api/v1/referrals/{referral_id}/{step}", json=body)


def listed(api, who, programme, day):
    with frozen(morning(day)):
        r = api.get(who, f"/api/v1/worklist?programme={programme}")
    assert r.status_code == 200, r.json
    return r.json["items"]


def inbox(api, who):
    with frozen(morning(D)):
        return [m["title"] for m in api.get(who, "/api/v1/me/messages").json["items"]]


def test_an_urgent_referral_puts_the_team_leader_on_notice_once(app, api, world, wechat_sandbox):
    r = issue(api, "a-nurse", world.grandpa, urgency="urgent")
    assert r.status_code == 201, r.json
    assert (r.json["status"], r.json["urgency"], r.json["destination"]) == ("issued", "urgent", HOSPITAL)
    assert issue(api, "a-nurse", world.grandpa).status_code == 201  # a routine one tells nobody
    with frozen(morning(D)):
        dispatch(app)
        dispatch(app)
    assert inbox(api, "a-doc") == ["紧急转诊"]  # a-doc leads team A
    assert inbox(api, "a-nurse") == [] and inbox(api, "a-doc2") == []
    assert len(outbox(app, "referral_urgent")) == 1


def test_a_visit_suggesting_referral_offers_it_prefilled(app, api, world):
    body = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=186, dbp=112)
    offer = body["referral_offer"]
    assert (offer["urgency"], offer["direction"], offer["source_visit_id"]) == ("urgent", "up", body["visit"]["id"])
    assert "sbp" in offer["reason"]
    r = issue(
        api, "a-doc", world.grandpa, **{k: v for k, v in offer.items() if v is not None}, to_hospital_name=HOSPITAL
    )
    assert r.status_code == 201 and r.json["source_visit_id"] == body["visit"]["id"]
    calm = visit_ok(api, "a-doc", world.grandpa, "hypertension", D, sbp=128, dbp=80)
    assert calm["referral_offer"] is None


def test_no_feedback_after_the_set_days_puts_it_on_the_worklist_until_returned(app, api, world):
    referral = issue(api, "a-doc", world.grandpa).json
    assert listed(api, "a-doc", "referral", D) == []
    assert listed(api, "a-doc", "referral", D + timedelta(days=6)) == []
    [entry] = listed(api, "a-doc", "referral", D + timedelta(days=7))
    assert (entry["resident"]["id"], entry["kind"], entry["programme"]) == (
        world.grandpa,
        "referral_feedback",
        "referral",
    )
    # the resident is not asked to chase the hospital
    with frozen(morning(D + timedelta(days=7))):
        due = api.get("grandpa", "/api/v1/me").json["due"]
    assert "referral" not in [d["programme"] for d in due]
    assert act(api, "a-doc", referral["id"], "receive", D + timedelta(days=7)).json["status"] == "received"
    assert len(listed(api, "a-doc", "referral", D + timedelta(days=8))) == 1  # received is not yet feedback
    back = D + timedelta(days=8)
    r = act(
        api,
        "a-doc",
        referral["id"],
        "return",
        back,
        returned_on=back.isoformat(),
        summary="调整降压药",
        advice="两周后复查",
    )
    assert r.status_code == 200 and r.json["status"] == "returned"
    assert listed(api, "a-doc", "referral", back + timedelta(days=1)) == []


def test_a_return_opens_the_2_week_follow_up_reminded_and_closed_by_the_next_visit(app, api, world):
    referral = issue(api, "a-doc", world.grandpa).json
    back = D + timedelta(days=3)
    r = act(api, "a-doc", referral["id"], "return", back, returned_on=back.isoformat(), summary="冠脉造影正常")
    assert r.json["return_followup_due_on"] == (back + timedelta(days=14)).isoformat()
    [entry] = listed(api, "a-doc", "referral_return", back)
    assert (entry["due_on"], entry["window"]) == ((back + timedelta(days=14)).isoformat(), "due")
    with frozen(morning(back)):
        due = api.get("grandpa", "/api/v1/me").json["due"]
    assert "referral_return" in [d["programme"] for d in due]
    run(app, reminders_job.send_reminders, back)
    run(app, reminders_job.send_reminders, back)
    reminders = outbox(app, "referral_return_window_open")
    assert len(reminders) == 1 and reminders[0]["recipient_id"] == world.grandpa
    visit_ok(api, "a-doc", world.grandpa, "hypertension", back + timedelta(days=5), method="phone", sbp=130, dbp=82)
    assert listed(api, "a-doc", "referral_return", back + timedelta(days=6)) == []
    with frozen(morning(back + timedelta(days=6))):
        mine = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/referrals")
        assert mine.status_code == 200
        [item] = mine.json["items"]
        assert (item["status"], item["followed_up_on"]) == ("returned", (back + timedelta(days=5)).isoformat())
        archive = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive").json
        assert [x["id"] for x in archive["referrals"]] == [referral["id"]]


def test_a_down_referral_received_opens_the_follow_up(app, api, world):
    r = issue(api, "a-doc", world.grandpa, direction="down", reason="术后康复回社区")
    assert r.status_code == 201
    assert listed(api, "a-doc", "referral", D + timedelta(days=30)) == []  # nothing to chase
    r2 = act(api, "a-doc", r.json["id"], "return", returned_on=D.isoformat(), summary="x")
    assert r2.status_code == 409 and r2.json["error"] == "referral_state"
    received = act(api, "a-doc", r.json["id"], "receive").json
    assert (received["status"], received["waiting_days"]) == ("received", None)  # done: the patient is back
    assert len(listed(api, "a-doc", "referral_return", D)) == 1
    assert act(api, "a-doc", r.json["id"], "cancel", reason="x").status_code == 409


def test_states_move_forward_only(app, api, world):
    first = issue(api, "a-doc", world.grandpa).json["id"]
    assert act(api, "a-doc", first, "cancel", reason="患者拒绝").json["status"] == "cancelled"
    for step, body in (
        ("receive", {}),
        ("cancel", {"reason": "x"}),
        ("return", {"returned_on": D.isoformat(), "summary": "x"}),
    ):
        r = act(api, "a-doc", first, step, **body)
        assert r.status_code == 409 and r.json["error"] == "referral_state", step
    second = issue(api, "a-doc", world.grandpa).json["id"]
    future = (D + timedelta(days=1)).isoformat()
    r = act(api, "a-doc", second, "return", returned_on=future, summary="x")
    assert r.status_code == 422 and list(r.json["errors"]) == ["returned_on"]
    r = act(api, "a-doc", second, "return", returned_on=(D - timedelta(days=1)).isoformat(), summary="x")
    assert r.status_code == 422 and list(r.json["errors"]) == ["returned_on"]
    with frozen(morning(D)):
        listed_ = api.get("a-doc", f"/api/v1/referrals?team_id={world.team_a}&status=issued").json
    assert [i["id"] for i in listed_["items"]] == [second]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_institution_id": 1}, "to_institution_id"),  # and a hospital name: one of them
        ({"to_hospital_name": None}, "to_hospital_name"),
        ({"to_hospital_name": ""}, "to_hospital_name"),
        ({"to_hospital_name": ...}, "to_institution_id"),  # neither
        ({"direction": "sideways"}, "direction"),
        ({"urgency": "whenever"}, "urgency"),
        ({"reason": ""}, "reason"),
        ({"source_visit_id": 987654}, "source_visit_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(app, api, world, body, field):
    r = issue(api, "a-doc", world.grandpa, **body)
    assert r.status_code == 422 and field in r.json["errors"], r.json
    with app.app_context():
        assert db.session.scalar(select(func.count(Referral.id))) == 0
        assert db.session.scalar(select(func.count(Outbox.id))) == 0


def test_another_teams_referrals_are_404(app, api, world):
    referral = issue(api, "a-doc", world.grandpa).json["id"]
    stranger = make_resident(app, "外队", world.a, world.team_a2)
    for who in ("b-doc", "a-doc2"):
        r = issue(api, who, world.grandpa)
        assert r.status_code == 404 and list(r.json) != ["id"]
        for step, body in (("receive", {}), ("cancel", {"reason": "x"})):
            assert act(api, who, referral, step, **body).status_code == 404
    assert issue(api, "a-doc", stranger).status_code == 404  # team A2's resident, same centre
    with frozen(morning(D)):
        assert api.get("b-doc", f"/api/v1/referrals?team_id={world.team_a}").status_code == 404
        assert api.get("b-doc", f"/api/v1/residents/{world.grandpa}/referrals").status_code == 404
        assert api.get("bob", f"/api/v1/residents/{world.grandpa}/referrals").status_code == 404
        assert api.get("b-doc", "/api/v1/referrals").json["total"] == 0
        assert api.get("a-nurse", "/api/v1/referrals").json["total"] == 1


def test_one_chase_entry_follows_the_earliest_referral_still_unanswered(app, api, world):
    first = issue(api, "a-doc", world.grandpa).json["id"]
    issue(api, "a-doc", world.grandpa, D + timedelta(days=5), urgency="urgent")
    back = D + timedelta(days=6)
    act(api, "a-doc", first, "return", back, returned_on=back.isoformat(), summary="已诊治")
    assert listed(api, "a-doc", "referral", D + timedelta(days=11)) == []  # the second's 7 days run to D+12
    [entry] = listed(api, "a-doc", "referral", D + timedelta(days=12))
    assert (entry["priority"], entry["reason"]) == (2, "urgent")
