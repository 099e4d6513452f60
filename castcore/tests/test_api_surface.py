"""The API's front door: its index, schema and docs, trailing slashes, and errors on any path."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from castcore.tests.test_error_envelope import error_of

pytestmark = pytest.mark.django_db


def test_the_api_root_answers_an_index_of_the_api(api: APIClient) -> None:
    response = api.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["schema"] == "/api/v1/schema/" and body["docs"] == "/api/v1/docs/"
    assert body["auth"]["login"] == "/api/v1/auth/login"
    assert {"/api/v1/users", "/api/v1/assets", "/api/v1/recordings"} <= set(body["resources"])
    assert not [path for path in body["resources"] if "{" in path or "<" in path]


def test_the_api_root_without_its_slash_redirects_to_the_index(api: APIClient) -> None:
    response = api.get("/api/v1")
    assert response.status_code == 308 and response["Location"] == "/api/v1/"


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/schema"])
def test_the_schema_is_served_with_and_without_the_trailing_slash(
    api: APIClient, path: str
) -> None:
    response = api.get(path, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/users" in response.json()["paths"]


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/docs"])
def test_the_docs_are_served_with_and_without_the_trailing_slash(api: APIClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert b"swagger-ui" in response.content


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_a_resource_path_with_a_trailing_slash_redirects_keeping_the_method(
    admin_api: APIClient, method: str
) -> None:
    response = admin_api.generic(
        method, "/api/v1/users/?ordering=id", data="{}", content_type="application/json"
    )
    # 308: clients repeat the same method with the same body (a 301 turns POST into GET).
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/users?ordering=id"


def test_a_post_through_the_redirect_creates_the_row(admin_api: APIClient) -> None:
    body = {"username": "slashed", "password": "a-long-enough-pass-1", "role": "viewer"}
    response = admin_api.post("/api/v1/users/", body, format="json", follow=True)
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "slashed"


def test_a_detail_path_with_a_trailing_slash_redirects(
    admin_api: APIClient, admin_user: Any
) -> None:
    response = admin_api.get(f"/api/v1/users/{admin_user.pk}/")
    assert response.status_code == 308
    assert response["Location"] == f"/api/v1/users/{admin_user.pk}"


def test_a_post_to_an_unknown_api_path_is_a_404_envelope_not_a_csrf_page() -> None:
    # A browser-like client: CSRF checks on, session cookie machinery in place.
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/no/such/thing", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "not_found",
        "params": {"path": "/api/v1/no/such/thing"},
        "level": "error",
    }


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_on_an_unknown_api_path_is_a_404_envelope(method: str) -> None:
    response = Client(enforce_csrf_checks=True).generic(method, "/api/nothing/here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.urls("castcore.tests.urls")
def test_a_csrf_failure_under_the_api_is_an_envelope() -> None:
    response = Client(enforce_csrf_checks=True).post("/api/v1/test/form", {"a": "b"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission.csrf_failed"


@pytest.mark.urls("castcore.tests.urls")
def test_a_csrf_failure_outside_the_api_stays_an_html_page() -> None:
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_method_the_endpoint_lacks_is_a_405_envelope(admin_api: APIClient) -> None:
    response = admin_api.delete("/api/v1/auth/me")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_host_django_refuses_is_a_400_envelope_under_the_api(api: APIClient) -> None:
    response = api.get("/api/v1/users", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert error_of(response)["code"] == "request.invalid"
