"""The 14th birthday: the guardian's automatic access ends and becomes a request the young person
can accept; unanswered requests expire."""

from datetime import date

import pytest
from sqlalchemy import select

from app.common.time import at_local, freeze
from app.extensions import db
from app.family.jobs import family_grants_daily
from app.family.models import FamilyGrant
from app.notify.models import Outbox
from tests.archive.helpers import (
    add_resident,
    fresh_id_sequence,  # noqa: F401  (autouse)
    grant,
    log_rows,
)

BIRTH = date(2011, 7, 10)  # 14 on 2025-07-10


def archive(api, who, rid):
    return api.get(who, f"/api/v1/residents/{rid}/archive")


@pytest.fixture
def teen(api, world, app):
    """Alice's daughter, 13 and a few days short of 14, with the automatic guardian grant."""
    freeze(at_local(date(2025, 7, 1), 10))
    rid = add_resident(app, world, "teen", "张小红", world.a, BIRTH, sex="female", household_id=world.home)
    r = grant(api, "alice", "teen", "child", world)
    assert r.status_code == 201, r.json
    assert (r.json["status"], r.json["basis"]) == ("active", "guardian_auto")
    api.as_("teen")  # the young person has bound their own phone
    return {"rid": rid, "grant_id": r.json["grant_id"]}


def run_job(app, day, hour=2):
    instant = at_local(day, hour)
    freeze(instant)
    with app.app_context():
        result = family_grants_daily(instant)
        db.session.commit()
    return result


def stored(app, grant_id):
    with app.app_context():
        g = db.session.get(FamilyGrant, grant_id)
        return g.status, g.basis, g.origin


def test_access_ends_on_the_birthday_even_before_the_job(api, world, app, teen):
    freeze(at_local(date(2025, 7, 9), 23, 59))
    assert archive(api, "alice", teen["rid"]).status_code == 200
    freeze(at_local(date(2025, 7, 10), 0, 1))
    gone = archive(api, "alice", teen["rid"])
    assert gone.status_code == 404 and "张小红" not in gone.get_data(as_text=True)
    assert stored(app, teen["grant_id"]) == ("active", "guardian_auto", "request")  # job not run yet
    mine = api.get("alice", "/api/v1/me/family").json
    assert [(i["grant_id"], i["status"], i["basis"], i["awaiting"]) for i in mine] == [
        (teen["grant_id"], "pending", None, "resident")
    ]
    asked = api.get("teen", "/api/v1/me/family/requests").json
    assert [(i["grant_id"], i["name"], i["status"]) for i in asked] == [(teen["grant_id"], "张丽", "pending")]


def test_the_job_turns_the_grant_into_a_request_the_young_person_accepts(api, world, app, teen):
    assert run_job(app, date(2025, 7, 9)) == {"turned_14": 0, "expired": 0}
    assert stored(app, teen["grant_id"]) == ("active", "guardian_auto", "request")

    assert run_job(app, date(2025, 7, 10)) == {"turned_14": 1, "expired": 0}
    assert stored(app, teen["grant_id"]) == ("pending", None, "turned_14")
    assert run_job(app, date(2025, 7, 10), hour=3) == {"turned_14": 0, "expired": 0}  # safe to run twice
    with app.app_context():
        messages = db.session.scalars(select(Outbox).where(Outbox.kind == "family_request")).all()
        assert [(m.recipient_kind, m.recipient_id, m.dedup_key, m.payload["requester"]) for m in messages] == [
            ("resident", teen["rid"], f"family-grant:{teen['grant_id']}:turned_14", "张丽")
        ]
    system_rows = [x for x in log_rows(app, teen["rid"]) if x.actor_kind == "system"]
    assert [(x.action, x.section) for x in system_rows] == [("update", "family_grant")]

    freeze(at_local(date(2025, 7, 11), 9))
    assert archive(api, "alice", teen["rid"]).status_code == 404
    asked = api.get("teen", "/api/v1/me/family/requests").json
    assert [(i["grant_id"], i["origin"]) for i in asked] == [(teen["grant_id"], "turned_14")]
    ok = api.post("teen", f"/api/v1/me/family/requests/{teen['grant_id']}/accept")
    assert ok.status_code == 200 and (ok.json["status"], ok.json["basis"]) == ("active", "accepted")
    assert archive(api, "alice", teen["rid"]).status_code == 200
    reads = log_rows(app, teen["rid"], action="read")
    assert [(x.actor_display, x.purpose) for x in reads][-1] == ("张丽", "family_access")
    # an accepted grant does not end again at the next run
    assert run_job(app, date(2025, 7, 12)) == {"turned_14": 0, "expired": 0}
    assert stored(app, teen["grant_id"]) == ("active", "accepted", "turned_14")


def test_the_young_person_may_accept_before_the_job_ran_or_decline(api, world, app, teen):
    freeze(at_local(date(2025, 7, 10), 8))
    ok = api.post("teen", f"/api/v1/me/family/requests/{teen['grant_id']}/accept")
    assert ok.status_code == 200 and ok.json["basis"] == "accepted"
    assert archive(api, "alice", teen["rid"]).status_code == 200
    assert run_job(app, date(2025, 7, 11)) == {"turned_14": 0, "expired": 0}
    # and may change their mind
    assert api.delete("teen", f"/api/v1/me/family/{teen['grant_id']}").status_code == 204
    assert archive(api, "alice", teen["rid"]).status_code == 404


def test_before_14_there_is_nothing_for_the_child_to_accept(api, world, app, teen):
    # under 14 the request does not even exist for the child: the grant is the guardian's
    assert api.get("teen", "/api/v1/me/family/requests").json == []
    refused = api.post("teen", f"/api/v1/me/family/requests/{teen['grant_id']}/accept")
    assert refused.status_code == 409 and refused.json["error"] == "grant_not_pending"


def test_unanswered_requests_expire(api, world, app):
    freeze(at_local(date(2025, 1, 1), 10))
    grant_id = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    freeze(at_local(date(2025, 1, 31), 9))
    assert [i["status"] for i in api.get("alice", "/api/v1/me/family").json] == ["pending"]
    freeze(at_local(date(2025, 1, 31), 11))  # 30 days and an hour later: expired, even before the job
    assert api.get("grandpa", "/api/v1/me/family/requests").json == []
    late = api.post("grandpa", f"/api/v1/me/family/requests/{grant_id}/accept")
    assert late.status_code == 409 and late.json["error"] == "request_expired"
    assert run_job(app, date(2025, 2, 1)) == {"turned_14": 0, "expired": 1}
    assert stored(app, grant_id) == ("expired", None, "request")
    assert api.get("alice", "/api/v1/me/family").json == []
    # and can be asked again
    freeze(at_local(date(2025, 2, 2), 10))
    again = grant(api, "alice", "grandpa", "parent", world)
    assert again.status_code == 201 and again.json["status"] == "pending"
