"""The archive and the family-doctor contract: the summary section, EpisodeOfCare, deliveries (履约)."""

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.common.time import today
from tests.archive.helpers import (
    check,
    counting_queries,
    fresh_id_sequence,  # noqa: F401  (autouse)
    record,
)
from tests.contracts.helpers import make_packages, signed


@pytest.fixture
def contract(api, world):
    pk = {k: v["id"] for k, v in make_packages(api, world).items()}
    return signed(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"], pk["elderly"]])


def delivered(api, contract_id):
    body = api.get("a-doc", f"/api/v1/contracts/{contract_id}").json
    return {i["service_type"]: i["delivered"] for i in body["items"]}


def test_health_checks_and_service_records_count_as_deliveries(api, world, contract):
    day = today().isoformat()
    made = api.post(
        "a-doc",
        f"/api/v1/residents/{world.grandpa}/health-checks",
        json={"checked_on": day, "sbp": 132, "dbp": 80, "elderly": {"cognitive_screen": "negative"}},
        headers={"Idempotency-Key": "hc-1"},
    )
    assert made.status_code == 201
    replay = api.post(
        "a-doc",
        f"/api/v1/residents/{world.grandpa}/health-checks",
        json={"checked_on": day, "sbp": 132, "dbp": 80, "elderly": {"cognitive_screen": "negative"}},
        headers={"Idempotency-Key": "hc-1"},
    )
    assert replay.status_code == 201 and replay.json["id"] == made.json["id"]
    record(api, "a-nurse", world.grandpa, "home_visit", day, sbp=128, dbp=78)
    record(api, "a-doc", world.grandpa, "tcm", day, tcm={"constitution": ["balanced"]})
    record(api, "a-doc", world.grandpa, "consultation", day)
    record(api, "a-doc", world.grandpa, "other", day)
    assert delivered(api, contract["id"]) == {"health_check": 1, "consultation": 1, "tcm_guidance": 1, "home_visit": 1}
    # a second check this year finds nothing left to deliver, and is still stored
    check(api, "a-doc", world.grandpa, day, sbp=130, dbp=80)
    assert delivered(api, contract["id"])["health_check"] == 1
    # bob has no contract: his records are stored, nothing is counted
    check(api, "b-doc", world.bob, day)


def test_archive_shows_the_contract_summary_to_the_resident_and_staff(api, world, contract):
    record(api, "a-nurse", world.grandpa, "home_visit", today().isoformat())
    for who in ("grandpa", "a-doc"):
        section = api.get(who, f"/api/v1/residents/{world.grandpa}/archive").json["contract"]
        assert (section["id"], section["status"], section["team"]["name"]) == (contract["id"], "active", "鲸园一队")
        assert section["items_delivered"] == 1 and section["items_total"] == 8
    assert api.get("alice", f"/api/v1/residents/{world.alice}/archive").json["contract"] is None
    # the contract section does not grow with the archive either
    api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive")
    with counting_queries(api.client.application) as before:
        api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive")
    for _ in range(5):
        record(api, "a-nurse", world.grandpa, "consultation", today().isoformat())
    with counting_queries(api.client.application) as after:
        api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive")
    assert len(before) == len(after)


def test_fhir_bundle_carries_the_contract_as_episode_of_care(api, world, contract):
    r = api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive/fhir")
    bundle = Bundle.model_validate(r.json)
    resources = {e.fullUrl: e.resource for e in bundle.entry}
    episodes = [x for x in resources.values() if x.get_resource_type() == "EpisodeOfCare"]
    assert len(episodes) == 1
    episode = episodes[0]
    assert episode.status == "active"
    assert str(episode.period.start) == contract["starts_on"] and str(episode.period.end) == contract["ends_on"]
    assert episode.careManager.display == "王医生"
    assert {t.text for t in episode.type} == {"家庭医生签约服务", "基础服务包", "老年人个性化包"}
    team = resources[episode.team[0].reference]
    assert team.get_resource_type() == "CareTeam" and team.name == "鲸园一队"
    assert [(p.member.display, p.role[0].text) for p in team.participant] == [
        ("王医生", "leader_gp"),
        ("李护士", "nurse"),
    ]
    patient_url = next(u for u, x in resources.items() if x.get_resource_type() == "Patient")
    assert episode.patient.reference == patient_url == team.subject.reference


def test_the_archive_body_is_exactly_its_documented_schema(api, world, app, contract, monkeypatch):
    """The archive is answered without a dump pass: every section, filled, must already be what
    ``ArchiveOut`` (the OpenAPI document) would write — same keys, same values."""
    import json
    from datetime import timedelta

    from app.archive import routes
    from app.archive.schemas import ArchiveOut
    from app.common import responses
    from app.followups.schemas import ResidentFollowupsOut
    from tests.followups.helpers import visit_ok

    bodies = []

    def capture(body):
        bodies.append(body)
        return responses.json_response(body)

    monkeypatch.setattr(routes, "json_response", capture)

    day = today()
    for n in range(3):
        visit_ok(api, "a-doc", world.grandpa, "hypertension", day - timedelta(days=30 * n), sbp=150 - n, dbp=95)
    check(api, "a-doc", world.grandpa, day.isoformat(), sbp=132, dbp=80, weight_kg=61.5, height_cm=165)
    check(api, "a-doc", world.grandpa, (day - timedelta(days=400)).isoformat(), sbp=128, dbp=78)
    record(
        api,
        "a-doc",
        world.grandpa,
        "referral",
        day.isoformat(),
        referral={"to_institution": "市立医院", "reason": "BP"},
    )
    record(api, "a-doc", world.grandpa, "tcm", day.isoformat(), tcm={"constitution": ["balanced"]})
    for who in ("grandpa", "a-doc"):
        r = api.get(who, f"/api/v1/residents/{world.grandpa}/archive?per_page=2")
        assert r.status_code == 200 and r.mimetype == "application/json"
        body = r.json
        assert body["health_checks"]["comparison"] and body["followups"]["visits"]["total"] == 3
        assert body["contract"]["packages"] and body["service_records"]["total"] == 2
        dumped = json.loads(responses.dumps(ArchiveOut().dump(bodies[-1])))
        assert dumped == body and list(dumped) == list(body)
        assert json.loads(responses.dumps(ResidentFollowupsOut().dump(bodies[-1]["followups"]))) == body["followups"]
        alone = api.get(who, f"/api/v1/residents/{world.grandpa}/followups?per_page=2").json
        assert alone == body["followups"]
