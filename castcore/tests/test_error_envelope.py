"""Every native error status answers in the envelope with a machine-readable code."""

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "params", "level"}, body
    assert body["error"]["level"] == "error"
    return body["error"]


def test_400_names_the_missing_field(admin_api: APIClient) -> None:
    response = admin_api.post("/api/v1/users", {"password": "x-long-enough-pass-1"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation.required"
    assert error["params"]["field"] == "username"
    assert {"field": "username", "code": "validation.required"} in error["params"]["errors"]


def test_400_for_malformed_json(admin_api: APIClient) -> None:
    response = admin_api.post("/api/v1/users", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "request.malformed"


def test_401_without_credentials(api: APIClient) -> None:
    response = api.get("/api/v1/users")
    assert response.status_code == 401
    assert error_of(response)["code"] == "auth.not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_401_for_a_garbage_jwt(api: APIClient) -> None:
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    response = api.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "auth.token_invalid"


def test_403_for_a_viewer_creating_users(viewer_api: APIClient) -> None:
    response = viewer_api.post("/api/v1/users", {"username": "x", "password": "y"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission.denied"


def test_404_for_an_unknown_api_path(api: APIClient) -> None:
    response = api.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "not_found",
        "params": {"path": "/api/v1/no/such/thing"},
        "level": "error",
    }


def test_404_for_an_unknown_object(admin_api: APIClient) -> None:
    response = admin_api.get("/api/v1/users/999999")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_405_names_the_method(admin_api: APIClient) -> None:
    response = admin_api.put("/api/v1/roles", {}, format="json")
    assert response.status_code == 405
    assert error_of(response) == {
        "code": "method_not_allowed",
        "params": {"method": "PUT"},
        "level": "error",
    }


def test_409_when_deleting_yourself(admin_api: APIClient, admin_user: Any) -> None:
    response = admin_api.delete(f"/api/v1/users/{admin_user.pk}")
    assert response.status_code == 409
    assert error_of(response)["code"] == "user.cannot_delete_self"


@pytest.mark.urls("castcore.tests.urls")
def test_429_when_throttled(api: APIClient) -> None:
    assert api.get("/api/v1/test/throttled").status_code == 200
    response = api.get("/api/v1/test/throttled")
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "rate_limited"
    assert error["params"]["retry_after"] >= 1
    assert int(response["Retry-After"]) >= 1


@pytest.mark.urls("castcore.tests.urls")
def test_500_is_an_envelope_without_details(
    api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = api.get("/api/v1/test/boom")
    assert response.status_code == 500
    assert error_of(response) == {"code": "server.error", "params": {}, "level": "error"}
    assert "secret-in-error" not in response.content.decode()
    assert any("Unhandled error" in record.message for record in caplog.records)


def test_413_for_a_body_larger_than_django_reads_into_memory(
    admin_api: APIClient, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = admin_api.post("/api/v1/channels", {"name": "x" * 2000}, format="json")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "request.too_large" and error["params"] == {"limit_bytes": 1000}


def test_413_for_a_form_larger_than_django_reads_into_memory(client: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/admin/login/", {"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request.too_large"
