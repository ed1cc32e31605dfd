"""Issue 10: fuzz the whole API from its own OpenAPI document, as every role.

schemathesis generates requests for every operation of ``/api/openapi.json`` (valid ones and
ones that break the documented schema), sends them in-process through WSGI as each role and
checks that the API never answers 5xx and that each answer's status code, content type and
body are the ones documented. The cases are derandomised and few per operation, so the run
is the same every time and stays short; the world is built once, with an object of each
kind a path can name, and half of the cases aim at those objects instead of random ids.
"""

from __future__ import annotations

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.common.time import freeze
from tests.common.fuzz_helpers import NOW, ROLES, cases_for, headers_for, ordered, seed, share, summary


@schemathesis.check
def documented_method_is_allowed(ctx, response, case):
    """The ``default`` response covers any error status, 405 too; but a documented operation never is
    "method not allowed" (werkzeug answered that for ids out of the converter's range)."""
    if response.status_code == 405:
        raise AssertionError(f"{case.operation.label} is documented, yet answered 405")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    documented_method_is_allowed,
]
# Per operation: 4 valid and 2 invalid cases; each signed-in role sends 3 of them, anonymous 1.
POSITIVE, NEGATIVE, PER_ROLE = 4, 2, 3


def test_every_operation_as_every_role_answers_as_documented(app, api, world):
    freeze(NOW)
    ids = seed(app, api, world)
    headers = {role: headers_for(api, who) for role, who in ROLES.items()}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)

    failures: dict[str, str] = {}
    tried = set()
    for operation in ordered(schema):
        cases = cases_for(operation, ids, POSITIVE, NEGATIVE)
        for turn, (role, role_headers) in enumerate(headers.items()):
            for case in share(cases, turn, PER_ROLE if role_headers else 1):
                tried.add((operation.label, role))
                try:
                    case.call_and_validate(headers=role_headers, checks=CHECKS)
                except (AssertionError, BaseExceptionGroup) as exc:
                    failures.setdefault(f"{operation.label} as {role}", summary(exc))
    # every operation was tried as every role (a schema that lost its paths would pass vacuously)
    assert len(tried) == len(ordered(schema)) * len(ROLES) > 80 * len(ROLES)
    assert not failures, "\n\n".join(f"== {where}\n{what}" for where, what in failures.items())


# --- what the fuzzer found, pinned down ---------------------------------------------------------


def test_the_document_describes_the_error_body_and_the_shared_errors(client):
    spec = client.get("/api/openapi.json").json
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"code", "error", "message", "errors"}  # was flask-smorest's "status"
    resident = spec["paths"]["/api/v1/residents/{rid}"]
    assert {"401", "403", "404", "default"} <= set(resident["get"]["responses"])
    assert {"400", "401", "403", "404", "422"} <= set(resident["patch"]["responses"])
    assert resident["parameters"][0]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    create = spec["paths"]["/api/v1/residents"]["post"]
    assert [p["name"] for p in create["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert "409" in create["responses"]
    login = spec["paths"]["/api/v1/auth/staff/login"]["post"]
    assert login["security"] == [] and "403" not in login["responses"] and "401" in login["responses"]
    price = spec["components"]["schemas"]["PackageCreateIn"]["properties"]["price"]
    assert (price["minimum"], price["maximum"]) == (0, 100000)  # numbers, not the strings "0.00" / "100000.00"


def test_values_no_column_can_take_are_refused_not_a_500(api, world):
    huge = 2**31
    assert api.get("admin", f"/api/v1/teams/{huge}").status_code == 404
    assert api.delete("admin", f"/api/v1/surveys/{huge}").status_code == 404  # not 405 (GET and PUT exist)
    assert api.get("admin", f"/api/v1/residents/{10**24}/archive/fhir").status_code == 404
    r = api.get("admin", f"/api/v1/teams?institution_id={huge}")
    assert (r.status_code, r.json["errors"]) == (422, {"institution_id": ["number out of range"]})
    r = api.post(
        "admin",
        "/api/v1/teams",
        json={"name": "x", "institution_id": world.a, "members": [{"staff_id": -(10**30), "role": "nurse"}]},
    )
    assert r.status_code == 422 and r.json["error"] == "validation_error"
    r = api.patch("admin", f"/api/v1/residents/{world.bob}", json={"name": "刘\x00强"})
    assert (r.status_code, r.json["errors"]) == (422, {"name": ["must not contain NUL characters"]})
    r = api.post(
        "a-doc",
        f"/api/v1/residents/{world.alice}/reminders",
        json={"title": "t", "body": "b"},
        headers={"Idempotency-Key": "a\x00b"},
    )
    assert (r.status_code, r.json["errors"]) == (422, {"Idempotency-Key": ["at most 100 printable characters"]})
    r = api.client.post("/api/v1/auth/staff/login", json={"username": "ad\x00min", "password": "x"})
    assert r.status_code == 422
    r = api.client.post("/api/v1/auth/staff/login", json=["admin"])  # the rate-limit key read any JSON as a dict
    assert r.status_code == 422


def test_evaluation_days_outside_the_indicator_years_are_refused(api, world):
    for path in (
        "/api/v1/contracts/indicators?on=0032-01-10",
        "/api/v1/indicators?as_of=9999-12-31",
        "/api/v1/archive/metrics?on=0001-01-01",
    ):
        r = api.get("admin", path)
        assert (r.status_code, r.json["error"]) == (422, "validation_error"), path
    assert api.get("admin", "/api/v1/contracts/indicators?on=2026-03-10").status_code == 200
