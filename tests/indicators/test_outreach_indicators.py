"""The worklist's outreach and two-way referral indicators (逾期患者联系率, 联系后15天内回归率, 转诊反馈率,
回转患者2周内随访率; app/indicators/outreach.py): numerator and denominator equal a hand count over
patients the test contacts, refers and follows up through the HTTP API, and the drill-down lists
exactly the residents counted."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.common.time import frozen
from app.extensions import db
from app.followups.models import FollowupPlan
from tests.followups.helpers import make_resident, morning, visit_ok

Y = 2026
E = date(Y, 5, 15)  # the evaluation day D of the hand counts
READ = date(Y, 5, 25)  # the clock while the indicators are read (as_of=E unless said)
SEEN = date(2025, 12, 1)  # a controlled visit: the next one is due 1 March (SEEN + 90 days)
DUE = date(Y, 3, 1)
KEYS = ("overdue_contacted", "return_to_care_15d", "referral_feedback", "referral_return_followup")
HOSPITAL = "威海市立医院"


def d(month: int, dom: int, year: int = Y) -> date:
    return date(year, month, dom)


def _post(api, who, path, day, **body):
    with frozen(morning(day)):
        r = api.post(who, path, json={k: v.isoformat() if isinstance(v, date) else v for k, v in body.items()})
    assert r.status_code in (200, 201), (path, r.json)
    return r.json


def _visit(api, who, rid, on):
    with frozen(morning(on)):
        return visit_ok(api, who, rid, "hypertension", on, sbp=128, dbp=80)


def _plan(app, rid, programme="hypertension") -> int:
    """The resident's open plan of the programme (the worklist entry a contact is about)."""
    with app.app_context():
        return db.session.scalar(
            select(FollowupPlan.id).where(
                FollowupPlan.resident_id == rid, FollowupPlan.disease == programme, FollowupPlan.status == "open"
            )
        )


def _contact(app, api, who, rid, day, outcome="agreed", programme="hypertension", **body):
    return _post(
        api,
        who,
        f"/api/v1/worklist/{_plan(app, rid, programme)}/contacts",
        day,
        method="phone",
        outcome=outcome,
        **body,
    )


def _refer(api, rid, day, direction="up"):
    body = dict(resident_id=rid, direction=direction, to_hospital_name=HOSPITAL, reason="血压控制不满意")
    return _post(api, "a-doc", "/api/v1/referrals", day, **body)["id"]


def _step(api, referral_id, step, day, **body):
    return _post(api, "a-doc", f"/api/v1/referrals/{referral_id}/{step}", day, **body)


@pytest.fixture
def people(app, api, world):
    """The population; each comment says what the resident is meant to move (at D = E, team A)."""
    ids = {}

    def person(key, team=world.team_a, institution=world.a):
        ids[key] = make_resident(app, f"患者{key}", institution, team, diseases=("hypertension",))
        return ids[key]

    # --- overdue hypertension visits: seen 1 Dec 2025, due 1 March ---------------------------------
    for key in ("back10", "back15", "back16", "died", "never", "self", "early", "twice", "ontime"):
        _visit(api, "a-doc", person(key), SEEN)
    # contacted 10 March, back 10 days later → contacted; back in care ✓
    _contact(app, api, "a-nurse", ids["back10"], d(3, 10))
    _visit(api, "a-doc", ids["back10"], d(3, 20))
    # call later (still a contact), back exactly 15 days after → contacted; back in care ✓ (the bound)
    _contact(app, api, "a-nurse", ids["back15"], d(3, 10), "call_later", call_back_on=d(3, 17))
    _visit(api, "a-doc", ids["back15"], d(3, 25))
    # back 16 days after the contact → contacted; in the 15-day base, not back in time
    _contact(app, api, "a-doc", ids["back16"], d(3, 10))
    _visit(api, "a-doc", ids["back16"], d(3, 26))
    # reported dead (left for the admins' review) → contacted; not in the 15-day base
    _contact(app, api, "a-doc", ids["died"], d(3, 10), "died", note="家属告知已去世")
    # never contacted, never back → overdue, not contacted
    # came back on 5 March without a contact → overdue (done after its due date), not contacted
    _visit(api, "a-doc", ids["self"], d(3, 5))
    # contacted on 25 February, before the due date → not a contact about an overdue entry
    _contact(app, api, "a-doc", ids["early"], d(2, 25))
    # unreachable on 10 March, refused on 20 March, back on 1 April (12 days after the second) → ✓ ✓
    _contact(app, api, "a-nurse", ids["twice"], d(3, 10), "unreachable")
    _contact(app, api, "a-nurse", ids["twice"], d(3, 20), "refused", note="说下周自己来")
    _visit(api, "a-doc", ids["twice"], d(4, 1))
    # seen on 25 February, before the due date; the next one is due 26 May → in no base
    _visit(api, "a-doc", ids["ontime"], d(2, 25))
    # last year's overdue entry, contacted and done last year; the next one due 14 Dec 2025 → no base
    _visit(api, "a-doc", person("lastyear"), d(6, 1, 2025))
    _contact(app, api, "a-doc", ids["lastyear"], d(9, 10, 2025))
    _visit(api, "a-doc", ids["lastyear"], d(9, 15, 2025))
    # team A2 (institution A): contacted, back in 5 days; institution B: overdue, never contacted
    _visit(api, "a-doc2", person("a2", world.team_a2), SEEN)
    _contact(app, api, "a-doc2", ids["a2"], d(3, 10))
    _visit(api, "a-doc2", ids["a2"], d(3, 15))
    _visit(api, "b-doc", person("b", world.team_b, world.b), SEEN)

    # --- referrals (team A, issued by a-doc) ----------------------------------------------------------
    # up, returned 9 March, followed up 7 days later → answered; followed up in time
    r = _refer(api, person("fast"), d(3, 2))
    _step(api, r, "return", d(3, 9), returned_on=d(3, 9), summary="调整降压药")
    _visit(api, "a-doc", ids["fast"], d(3, 16))
    # up, received, returned 12 March, followed up on the 14th day → answered; in time (the bound)
    r = _refer(api, person("fourteen"), d(3, 2))
    _step(api, r, "receive", d(3, 4), received_on=d(3, 4))
    _step(api, r, "return", d(3, 12), returned_on=d(3, 12), summary="冠脉造影正常")
    _visit(api, "a-doc", ids["fourteen"], d(3, 26))
    # up, returned 10 March, followed up on the 15th day: late. The return follow-up (due 24 March)
    # was overdue: contacted on 25 March and done that day → overdue contacted ✓, back in care ✓
    r = _refer(api, person("late"), d(3, 2))
    _step(api, r, "return", d(3, 10), returned_on=d(3, 10), summary="住院一周")
    _contact(app, api, "a-doc", ids["late"], d(3, 25), programme="referral_return")
    _visit(api, "a-doc", ids["late"], d(3, 25))
    # up, received, never answered (its chase entry is no overdue entry) → referred, not answered
    r = _refer(api, person("unanswered"), d(4, 1))
    _step(api, r, "receive", d(4, 3), received_on=d(4, 3))
    # up, cancelled → in no base
    r = _refer(api, person("cancelled"), d(3, 5))
    _step(api, r, "cancel", d(3, 8), reason="患者拒绝转诊")
    # up 20 April, answered 20 May (after D) → referred, not answered by D; not back by D
    r = _refer(api, person("answered_after"), d(4, 20))
    _step(api, r, "return", d(5, 20), returned_on=d(5, 20), summary="无需处理")
    # up last December, returned 5 January, followed up 10 days later → not referred this year, back ✓.
    # The visit's next one is due 15 April and not made → an overdue entry, not contacted
    r = _refer(api, person("december"), d(12, 20, 2025))
    _step(api, r, "return", d(1, 5), returned_on=d(1, 5), summary="出院")
    _visit(api, "a-doc", ids["december"], d(1, 15))
    # down, received 12 April, followed up 8 days later → back ✓ (not a referral up)
    r = _refer(api, person("down"), d(4, 10), "down")
    _step(api, r, "receive", d(4, 12), received_on=d(4, 12))
    _visit(api, "a-doc", ids["down"], d(4, 20))
    # down, received 25 April, never followed up → back, not followed up; its return follow-up (due
    # 9 May) is an overdue entry, not contacted
    r = _refer(api, person("down_unseen"), d(4, 24), "down")
    _step(api, r, "receive", d(4, 25), received_on=d(4, 25))
    return ids


# (numerator, denominator) of team A at D = E, by resident key
TEAM_A = {
    "overdue_contacted": (
        {"back10", "back15", "back16", "died", "twice", "late"},
        {"back10", "back15", "back16", "died", "twice", "late", "never", "self", "early", "december", "down_unseen"},
    ),
    "return_to_care_15d": ({"back10", "back15", "twice", "late"}, {"back10", "back15", "back16", "twice", "late"}),
    "referral_feedback": ({"fast", "fourteen", "late"}, {"fast", "fourteen", "late", "unanswered", "answered_after"}),
    "referral_return_followup": (
        {"fast", "fourteen", "december", "down"},
        {"fast", "fourteen", "late", "december", "down", "down_unseen"},
    ),
}


def _rows(api, who="admin", **query):
    query = {"indicator": ",".join(KEYS), "year": Y, "as_of": E.isoformat(), **query}
    with frozen(morning(READ)):
        r = api.get(who, "/api/v1/indicators", query_string=query)
    assert r.status_code == 200, r.json
    return {row["indicator"]: row for row in r.json["rows"] if row["scope"] in ("total", "team")}


def _listed(api, key, part, who="admin", **query):
    query = {"part": part, "per_page": 100, "year": Y, "as_of": E.isoformat(), **query}
    with frozen(morning(READ)):
        r = api.get(who, f"/api/v1/indicators/{key}/residents", query_string=query)
    assert r.status_code == 200, r.json
    assert r.json["total"] == len(r.json["items"])
    return {item["id"] for item in r.json["items"]}


def _counts(rows):
    return {key: (rows[key]["numerator"], rows[key]["denominator"]) for key in KEYS}


def test_team_a_equals_the_hand_count_and_the_lists_name_the_residents(api, world, people):
    rows = _rows(api, team_id=world.team_a)
    assert _counts(rows) == {k: (len(n), len(b)) for k, (n, b) in TEAM_A.items()}
    assert _counts(rows) == {
        "overdue_contacted": (6, 11),
        "return_to_care_15d": (4, 5),
        "referral_feedback": (3, 5),
        "referral_return_followup": (4, 6),
    }
    for key, (numerator, base) in TEAM_A.items():
        assert _listed(api, key, "numerator", team_id=world.team_a) == {people[k] for k in numerator}, key
        assert _listed(api, key, "missing", team_id=world.team_a) == {people[k] for k in base - numerator}, key
        assert rows[key]["target"] is None
    assert rows["overdue_contacted"]["group"] == "outreach" and rows["referral_feedback"]["group"] == "referral"
    # the team's leader reads the same numbers
    assert _counts(_rows(api, "a-doc", team_id=world.team_a)) == _counts(rows)


def test_institutions_and_the_district_add_the_other_teams(api, world, people):
    outreach = {"overdue_contacted": (1, 1), "return_to_care_15d": (1, 1)}  # team A2's patient
    a = _counts(_rows(api, institution_id=world.a))
    for key, (numerator, base) in TEAM_A.items():
        more = outreach.get(key, (0, 0))
        assert a[key] == (len(numerator) + more[0], len(base) + more[1]), key
    assert _listed(api, "return_to_care_15d", "numerator", institution_id=world.a) == {
        people[k] for k in ("back10", "back15", "twice", "late", "a2")
    }
    b = _counts(_rows(api, institution_id=world.b))
    assert b == {k: (0, 1) if k == "overdue_contacted" else (0, 0) for k in KEYS}
    assert _listed(api, "overdue_contacted", "missing", institution_id=world.b) == {people["b"]}
    district = _counts(_rows(api))
    assert district["overdue_contacted"] == (a["overdue_contacted"][0], a["overdue_contacted"][1] + 1)
    assert {k: district[k] for k in KEYS[1:]} == {k: a[k] for k in KEYS[1:]}
    # team A2 alone; another institution's doctor cannot read team A
    assert _counts(_rows(api, "a-doc2", team_id=world.team_a2))["return_to_care_15d"] == (1, 1)
    with frozen(morning(READ)):
        assert api.get("b-doc", f"/api/v1/indicators?team_id={world.team_a}").status_code == 404


def test_the_evaluation_day_moves_the_counts(api, world, people):
    # on READ (25 May): the answer of 20 May is in; that patient is back, but their 2 weeks run to
    # 3 June, so they are not counted yet (neither followed up nor a failure)
    now = _counts(_rows(api, team_id=world.team_a, as_of=READ.isoformat()))
    assert now["referral_feedback"] == (4, 5)
    assert now["referral_return_followup"] == (4, 6)
    assert _listed(api, "referral_return_followup", "missing", team_id=world.team_a, as_of=READ.isoformat()) == {
        people[k] for k in ("late", "down_unseen")
    }
    # on 31 March: the entries due 1 March and late's return follow-up (due 24 March) only
    march = _counts(_rows(api, team_id=world.team_a, as_of=d(3, 31).isoformat()))
    assert march["overdue_contacted"] == (6, 9)  # not yet december's (due 15 April) nor down_unseen's
    # contacts up to 16 March only (their 15 days run by D): late's of 25 March not yet; twice comes
    # back on 1 April, back16 a day too late
    assert march["return_to_care_15d"] == (2, 4)
    assert march["referral_feedback"] == (3, 3)  # unanswered and answered_after not issued yet
    assert march["referral_return_followup"] == (3, 4)  # down and down_unseen not back yet
    # last year: the contact of September 2025 about the entry due in August, back five days later
    last = _counts(_rows(api, team_id=world.team_a, year=2025, as_of=d(12, 31, 2025).isoformat()))
    assert last["return_to_care_15d"] == (1, 1)
    assert last["overdue_contacted"] == (1, 1)
    assert last["referral_feedback"] == (0, 1)  # december's referral, answered in January


def test_a_late_entered_earlier_visit_is_the_first_follow_up(app, api, world):
    rid = make_resident(app, "补录", world.a, world.team_a, diseases=("hypertension",))
    r = _refer(api, rid, d(3, 2))
    _step(api, r, "return", d(3, 10), returned_on=d(3, 10), summary="出院")
    _visit(api, "a-doc", rid, d(3, 30))  # 20 days after the return …
    with frozen(morning(d(3, 31))):  # … but a paper form of a visit 10 days after it is entered next day
        visit_ok(api, "a-doc", rid, "hypertension", d(3, 20), sbp=128, dbp=80)
    assert _counts(_rows(api, team_id=world.team_a))["referral_return_followup"] == (1, 1)


def test_a_return_recorded_after_the_visit_counts_that_visit(app, api, world):
    rid = make_resident(app, "后录回转", world.a, world.team_a, diseases=("hypertension",))
    r = _refer(api, rid, d(3, 2))
    _visit(api, "a-doc", rid, d(3, 12))  # seen two days after coming back …
    _step(api, r, "return", d(3, 20), returned_on=d(3, 10), summary="出院")  # … the return entered later
    assert _counts(_rows(api, team_id=world.team_a))["referral_return_followup"] == (1, 1)
