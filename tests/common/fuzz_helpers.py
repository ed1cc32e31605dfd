"""Helpers for the API fuzz test: a world with one object of every kind a path names, the cases
schemathesis generates from the app's own OpenAPI document, and the loop that sends them.

Cases are generated once per operation (generation costs about as much as a request) and
shared out among the roles; the same seed gives the same cases on every run, so CI is not flaky.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from app.notify.dispatcher import drain
from tests.appointments.helpers import booked, publish
from tests.contracts.helpers import make_packages, signed
from tests.followups.helpers import visit_ok
from tests.surveys import helpers as surveys_helpers

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CST)  # a Tuesday morning, no public holiday near
TODAY = NOW.date()

# role -> who (tests.factories names); the resident logs in through WeChat and binds, like the other tests.
ROLES = {
    "anonymous": None,
    "resident": "alice",
    "doctor": "a-nurse",
    "team_leader": "a-doc",
    "institution_admin": "a-admin",
    "district_admin": "admin",
}

# Operations that can take the caller's own access away run last, so they cannot hide others' bugs.
LAST = ("PATCH /api/v1/staff/{staff_id}", "POST /api/v1/auth/logout")
# Query parameters pinned to a seeded value: the chart of all indicators draws ~24 panels (seconds
# each time), one indicator is enough to exercise the route.
PINNED_QUERY = {"GET /api/v1/indicators/chart.png": {"indicator": "key"}}


def seed(app, api, world) -> dict[str, list]:
    """One or two objects of each kind, made through the API: {path parameter: [ids]}."""
    packages = make_packages(api, world)
    contract = signed(api, "alice", [world.alice], world.team_a, [packages["basic"]["id"]])
    window = {
        "opens_on": (TODAY - timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + timedelta(days=10)).isoformat(),
    }
    survey = surveys_helpers.published(api, "a-admin", world.a, **window)
    draft = surveys_helpers.create(api, "a-admin", world.a, title="草稿问卷", **window)
    slot = publish(api, "a-doc", world.team_a, "consultation", datetime(2026, 3, 11, 9, 0, tzinfo=CST))
    appointment = booked(api, "alice", slot["id"])
    visit = visit_ok(api, "a-doc", world.grandpa, "hypertension", TODAY, sbp=128, dbp=82)
    r = api.post(
        "a-doc", f"/api/v1/residents/{world.alice}/reminders", json={"title": "复诊提醒", "body": "请按时复诊"}
    )
    assert r.status_code == 201, r.json
    with app.app_context():
        drain()  # the dispatcher puts the reminder in the inbox
    messages = api.get("alice", "/api/v1/me/messages").json["items"]
    assert messages, "the reminder should be in the resident's inbox"
    grants = []
    for who, relation in (("child", "child"), ("grandpa", "parent")):
        r = api.post(
            "alice",
            "/api/v1/me/family",
            json={"name": world.names[who], "id_number": world.numbers[who], "relation": relation},
        )
        assert r.status_code == 201, r.json
        grants.append(r.json["grant_id"])
    keys = [d["key"] for d in api.get("admin", "/api/v1/indicators/definitions").json[:2]]
    return {
        "rid": [world.grandpa, world.alice],
        "team_id": [world.team_a, world.team_b],
        "staff_id": [world.a_doc2, world.b_doc],  # never an account the roles act as
        "package_id": [packages["basic"]["id"], packages["htn"]["id"]],
        "contract_id": [contract["id"]],
        "survey_id": [survey["id"], draft["id"]],
        "question_id": [q["id"] for q in survey["questions"]][:2],
        "slot_id": [slot["id"]],
        "appointment_id": [appointment["id"]],
        "visit_id": [visit["visit"]["id"]],
        "message_id": [messages[0]["id"]],
        "grant_id": grants,
        "key": keys,
    }


def ordered(schema) -> list:
    """Every operation, reads first, then writes, deletes and finally the ones in ``LAST``."""
    operations = [result.ok() for result in schema.get_all_operations()]
    rank = {"get": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
    return sorted(
        operations, key=lambda op: (LAST.index(op.label) + 1 if op.label in LAST else 0, rank.get(op.method.lower(), 1))
    )


def generate(operation, mode, count: int) -> list:
    """``count`` cases for one operation, the same ones on every run (derandomised, no example database)."""
    cases = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def collect(case):
        cases.append(case)

    collect()
    return cases


def cases_for(operation, ids: dict, positive: int, negative: int) -> list:
    """Valid and schema-breaking cases interleaved (two valid, one invalid, …), aimed and pinned."""
    valid = distinct(generate(operation, GenerationMode.POSITIVE, positive))
    invalid = distinct(generate(operation, GenerationMode.NEGATIVE, negative))
    cases = []
    while valid or invalid:
        cases += valid[:2] + invalid[:1]
        valid, invalid = valid[2:], invalid[1:]
    aim(cases, ids)
    for name, kind in PINNED_QUERY.get(operation.label, {}).items():
        for case in cases:
            case.query = {**(case.query or {}), name: ids[kind][0]}
    return cases


def distinct(cases: list) -> list:
    """Drop repeats (an operation without parameters has one valid request only)."""
    seen, kept = set(), []
    for case in cases:
        key = repr((case.path_parameters, case.query, case.headers, case.cookies, case.body, case.media_type))
        if key not in seen:
            seen.add(key)
            kept.append(case)
    return kept


def share(cases: list, turn: int, width: int) -> list:
    """The ``width`` cases one role sends: a window that moves one case along per role."""
    return [cases[(turn + j) % len(cases)] for j in range(min(width, len(cases)))]


def aim(cases: list, ids: dict) -> None:
    """Point every other case's path parameters at objects that exist; the rest keep generated ids."""
    for index, case in enumerate(cases):
        if index % 2 or not case.path_parameters:
            continue
        for name in case.path_parameters:
            if ids.get(name):
                case.path_parameters[name] = ids[name][(index // 2) % len(ids[name])]


def headers_for(api, who) -> dict:
    return api.as_(who) if who else {}


def summary(exc: BaseException, limit: int = 1500) -> str:
    """schemathesis' report of a failure (what failed, the response, a curl line), cut to ``limit``."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + " …"
