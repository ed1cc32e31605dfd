"""Every error is the one JSON shape; nothing leaks HTML or a stack trace."""

import pytest


def assert_shape(r, status, error=None):
    assert r.status_code == status
    assert r.is_json, r.get_data(as_text=True)[:200]
    body = r.json
    assert body["code"] == status and isinstance(body["message"], str) and body["error"]
    if error:
        assert body["error"] == error
    text = r.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def test_unknown_route_is_json_404(client):
    assert_shape(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    assert_shape(client.delete("/api/v1/auth/staff/login"), 405, "method_not_allowed")


def test_malformed_json_is_400(client, world):
    r = client.post("/api/v1/auth/staff/login", data="{not json", content_type="application/json")
    assert_shape(r, 400, "bad_request")


def test_missing_token_is_401(client, world):
    assert_shape(client.get(f"/api/v1/residents/{world.alice}"), 401)


def test_garbage_token_is_401(client, world):
    r = client.get(f"/api/v1/residents/{world.alice}", headers={"Authorization": "Bearer abc.def.ghi"})
    assert_shape(r, 401, "token_invalid")


def test_validation_is_422_per_field(api, world):
    r = api.post("a-admin", "/api/v1/residents", json={"name": "", "institution_id": "x", "colour": "red"})
    body = assert_shape(r, 422, "validation_error")
    assert set(body["errors"]) >= {"name", "id_number", "institution_id", "colour"}


def test_conflict_is_409(api, world):
    r = api.post(
        "a-admin",
        "/api/v1/residents",
        json={"name": "张丽", "id_number": world.numbers["alice"], "institution_id": world.a},
    )
    assert_shape(r, 409, "duplicate_id_number")


def test_body_over_limit_is_413(client, app, world):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    r = client.post("/api/v1/auth/staff/login", data=big, content_type="application/json")
    assert_shape(r, 413, "payload_too_large")


def test_role_check_is_json_403(api, world):
    r = api.post(
        "a-doc",
        "/api/v1/institutions",
        json={"code": "X1", "name": "x", "kind": "village_clinic", "parent_id": world.a},
    )
    assert_shape(r, 403, "forbidden")


def test_unexpected_exception_is_json_500_without_trace(app):
    from app import create_app

    fresh = create_app("testing")

    @fresh.get("/api/v1/_boom_test")
    def boom():
        raise RuntimeError("secret internals")

    r = fresh.test_client().get("/api/v1/_boom_test")
    body = assert_shape(r, 500, "internal_error")
    assert "secret internals" not in r.get_data(as_text=True)
    assert body["message"] == "internal error"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.json["status"] in {"ok", "ready"}


def test_openapi_and_local_swagger_ui(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200 and "/api/v1/auth/wechat/login" in spec.json["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.get_data()) > 100_000
