"""Contact attempts on worklist entries (POST /worklist/{plan_id}/contacts) and the review of what
they report (GET /contact-reviews, confirm / dismiss), through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AccessLog
from app.common.time import frozen
from app.extensions import db
from app.followups.models import ContactAttempt
from app.residents.models import Resident
from tests.followups.helpers import DAY, make_resident, morning, plans, visit_ok

D = DAY


@pytest.fixture
def overdue(app, api, world):
    """Two team-A hypertension patients overdue on D (seen 120 days ago: due 30 days ago)."""
    ids = {}
    with frozen(morning(D)):
        for name in ("逾甲", "逾乙"):
            ids[name] = make_resident(app, name, world.a, world.team_a, diseases=("hypertension",))
            visit_ok(api, "a-doc", ids[name], "hypertension", D - timedelta(days=120), sbp=128, dbp=80)
    return ids


def entries(api, who, day=D, query=""):
    with frozen(morning(day)):
        r = api.get(who, f"/api/v1/worklist?programme=hypertension&per_page=100{query}")
    assert r.status_code == 200, r.json
    return {i["resident"]["name"]: i for i in r.json["items"]}


def contact(api, who, plan_id, day=D, **body):
    body.setdefault("method", "phone")
    with frozen(morning(day)):
        return api.post(who, f"/api/v1/worklist/{plan_id}/contacts", json=body)


def test_call_later_leaves_the_worklist_and_comes_back_on_its_date(api, world, overdue):
    plan_id = entries(api, "a-doc")["逾甲"]["plan_id"]
    back = D + timedelta(days=3)
    r = contact(api, "a-nurse", plan_id, outcome="call_later", call_back_on=back.isoformat(), note="在外地，下周回")
    assert r.status_code == 201, r.json
    assert (r.json["outcome"], r.json["overdue"], r.json["contacted_by"]) == ("call_later", True, "李护士")
    assert "逾甲" not in entries(api, "a-doc") and "逾乙" in entries(api, "a-doc")
    assert "逾甲" not in entries(api, "a-doc", back - timedelta(days=1))
    # the chronic worklist hides it too
    with frozen(morning(D)):
        chronic = api.get("a-doc", "/api/v1/followups/worklist?status=overdue").json["items"]
    assert "逾甲" not in [i["resident"]["name"] for i in chronic]
    again = entries(api, "a-doc", back)["逾甲"]
    assert again["last_contact"]["outcome"] == "call_later"
    assert again["last_contact"]["call_back_on"] == back.isoformat()
    assert entries(api, "a-doc")["逾乙"]["last_contact"] is None


def test_refused_stays_with_its_reason_and_the_last_contact_is_the_newest(api, world, overdue):
    plan_id = entries(api, "a-doc")["逾乙"]["plan_id"]
    assert contact(api, "a-doc", plan_id, outcome="unreachable").status_code == 201
    assert contact(api, "a-doc", plan_id, method="visit", outcome="refused", note="不愿来社区").status_code == 201
    last = entries(api, "a-doc")["逾乙"]["last_contact"]
    assert (last["outcome"], last["method"], last["note"]) == ("refused", "visit", "不愿来社区")


def test_died_goes_to_review_and_closes_the_archive_only_when_confirmed(app, api, world, overdue):
    rid = overdue["逾甲"]
    plan_id = entries(api, "a-doc")["逾甲"]["plan_id"]
    r = contact(api, "a-doc", plan_id, outcome="died", note="家属告知上月去世")
    assert r.status_code == 201 and r.json["review_status"] == "pending"
    with app.app_context():
        assert db.session.get(Resident, rid).status == "active"
    assert "逾甲" in entries(api, "a-doc")  # nothing changed yet

    with frozen(morning(D)):
        reviews = api.get("a-admin", "/api/v1/contact-reviews")
        assert reviews.status_code == 200
        [item] = [i for i in reviews.json["items"] if i["resident_id"] == rid]
        assert (item["outcome"], item["resident"]["name"], item["resident"]["status"]) == ("died", "逾甲", "active")
        assert api.get("a-doc", "/api/v1/contact-reviews").status_code == 403  # admins review
        assert api.get("b-doc", "/api/v1/contact-reviews").status_code == 403
        # a death in the future is refused (and changes nothing: the confirmation below still works)
        assert (
            api.post(
                "admin", f"/api/v1/contact-reviews/{item['id']}/confirm", json={"effective_on": "2099-01-01"}
            ).status_code
            == 422
        )
        died_on = D - timedelta(days=20)
        ok = api.post(
            "a-admin", f"/api/v1/contact-reviews/{item['id']}/confirm", json={"effective_on": died_on.isoformat()}
        )
        assert ok.status_code == 200, ok.json
        assert (ok.json["review_status"], ok.json["effective_on"]) == ("confirmed", died_on.isoformat())
        again = api.post("a-admin", f"/api/v1/contact-reviews/{item['id']}/confirm", json={})
        assert again.status_code == 409 and again.json["error"] == "already_reviewed"
    with app.app_context():
        person = db.session.get(Resident, rid)
        assert (person.status, person.status_changed_on) == ("deceased", died_on)
    assert plans(app, rid, status="open") == []
    assert [p["close_reason"] for p in plans(app, rid)][-1] == "deceased"
    assert "逾甲" not in entries(api, "a-doc")


def test_a_dismissed_report_changes_nothing(app, api, world, overdue):
    rid = overdue["逾乙"]
    plan_id = entries(api, "a-doc")["逾乙"]["plan_id"]
    review_id = contact(api, "a-doc", plan_id, outcome="moved_away").json["id"]
    with frozen(morning(D)):
        r = api.post("a-admin", f"/api/v1/contact-reviews/{review_id}/dismiss", json={})
        assert r.status_code == 422 and list(r.json["errors"]) == ["note"]
        r = api.post("a-admin", f"/api/v1/contact-reviews/{review_id}/dismiss", json={"note": "本人仍在辖区"})
        assert r.status_code == 200 and r.json["review_status"] == "dismissed"
        assert api.get("a-admin", "/api/v1/contact-reviews").json["total"] == 0
    with app.app_context():
        assert db.session.get(Resident, rid).status == "active"
    assert "逾乙" in entries(api, "a-doc")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "call_later"}, "call_back_on"),
        ({"outcome": "call_later", "call_back_on": DAY.isoformat()}, "call_back_on"),
        ({"outcome": "call_later", "call_back_on": (DAY + timedelta(days=91)).isoformat()}, "call_back_on"),
        ({"outcome": "agreed", "call_back_on": (DAY + timedelta(days=2)).isoformat()}, "call_back_on"),
        ({"outcome": "refused"}, "note"),
        ({"outcome": "gone_fishing"}, "outcome"),
        ({"outcome": "agreed", "method": "pigeon"}, "method"),
        ({"outcome": "agreed", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(app, api, world, overdue, body, field):
    plan_id = entries(api, "a-doc")["逾甲"]["plan_id"]
    r = contact(api, "a-doc", plan_id, **body)
    assert r.status_code == 422 and field in r.json["errors"], r.json
    with app.app_context():
        assert db.session.scalar(select(func.count(ContactAttempt.id))) == 0
    assert entries(api, "a-doc")["逾甲"]["last_contact"] is None


def test_other_teams_entries_are_404_and_contacts_are_logged(app, api, world, overdue):
    rid = overdue["逾甲"]
    plan_id = entries(api, "a-doc")["逾甲"]["plan_id"]
    for who in ("b-doc", "a-doc2"):
        r = contact(api, who, plan_id, outcome="agreed")
        assert r.status_code == 404 and "逾甲" not in r.get_data(as_text=True)
    assert contact(api, "a-doc", 999999, outcome="agreed").status_code == 404
    assert contact(api, "a-doc", plan_id, outcome="agreed").status_code == 201
    with frozen(morning(D)):
        mine = api.get("a-doc", f"/api/v1/residents/{rid}/contacts")
        assert mine.status_code == 200 and [c["outcome"] for c in mine.json["items"]] == ["agreed"]
        assert api.get("b-doc", f"/api/v1/residents/{rid}/contacts").status_code == 404
        archive = api.get("a-doc", f"/api/v1/residents/{rid}/archive")
        assert [c["outcome"] for c in archive.json["contacts"]] == ["agreed"]
        only = api.get("a-doc", f"/api/v1/residents/{rid}/archive?sections=contacts")
        assert list(only.json) == ["contacts"]
    with app.app_context():
        sections = db.session.scalars(
            select(AccessLog.section).where(AccessLog.subject_resident_id == rid).order_by(AccessLog.id)
        ).all()
    assert "contacts" in sections and sections.count("contacts") >= 2  # written, then read


def test_the_family_does_not_read_the_staffs_contact_notes(app, api, world):
    with frozen(morning(D)):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", D - timedelta(days=120), sbp=128, dbp=80)
    plan_id = entries(api, "a-doc")["张建国"]["plan_id"]
    assert contact(api, "a-doc", plan_id, outcome="died", note="邻居说已去世").status_code == 201
    with frozen(morning(D)):
        own = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive")
        assert own.status_code == 200 and "contacts" not in own.json
        assert "邻居说已去世" not in own.get_data(as_text=True)
        assert api.get("grandpa", f"/api/v1/residents/{world.grandpa}/contacts").status_code == 403


def test_reaching_the_resident_or_a_worse_visit_brings_a_call_later_entry_back(app, api, world, overdue):
    later = (D + timedelta(days=60)).isoformat()
    first, second = (entries(api, "a-doc")[n]["plan_id"] for n in ("逾甲", "逾乙"))
    for plan_id in (first, second):
        assert contact(api, "a-doc", plan_id, outcome="call_later", call_back_on=later).status_code == 201
    assert contact(api, "a-doc", first, D + timedelta(days=1), outcome="agreed").status_code == 201
    with frozen(morning(D + timedelta(days=1))):
        visit_ok(api, "a-doc", overdue["逾乙"], "hypertension", D + timedelta(days=1), method="phone", sbp=186, dbp=112)
    back = entries(api, "a-doc", D + timedelta(days=1))
    assert {"逾甲", "逾乙"} <= set(back) and back["逾乙"]["priority"] == 2
