"""The OpenAPI schema documents the errors each operation really answers, in its own shape."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
ASCIINEMA = {"$ref": "#/components/schemas/AsciinemaError"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


def _error_schema(operation: dict[str, Any], status: str) -> Any:
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_the_schema_validates_without_warnings(tmp_path: Any) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_every_operation_with_a_body_documents_415(schema: dict[str, Any]) -> None:
    missing = [
        f"{method} {path}"
        for path, method, operation in _operations(schema)
        if "requestBody" in operation and "415" not in operation["responses"]
    ]
    assert not missing


def test_every_documented_error_has_a_body(schema: dict[str, Any]) -> None:
    bare = [
        f"{method} {path} {status}"
        for path, method, operation in _operations(schema)
        for status, response in operation["responses"].items()
        if status[:1] in "45" and "content" not in response
    ]
    assert not bare


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/assets/{id}"),
        ("delete", "/api/v1/users/{id}"),
        ("post", "/api/v1/stream-jobs/{id}/start"),
        ("post", "/api/v1/storage-sources/{id}/scan"),
    ],
)
def test_writes_that_can_conflict_document_409(
    schema: dict[str, Any], method: str, path: str
) -> None:
    assert _error_schema(schema["paths"][path][method], "409") == ENVELOPE


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/v1/streams"), ("get", "/api/v1/user/streams"), ("post", "/api/asciicasts")],
)
def test_asciinema_paths_document_their_own_401_shape(
    schema: dict[str, Any], method: str, path: str
) -> None:
    operation = schema["paths"][path][method]
    assert _error_schema(operation, "401") == ASCIINEMA
    assert "400" not in operation["responses"]  # asciinema validation errors are 422


def test_paths_shared_with_asciinema_document_both_shapes(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/v1/recordings/{key}"]["get"]
    assert _error_schema(operation, "401") == {"oneOf": [ENVELOPE, ASCIINEMA]}


def test_the_error_components_are_defined(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["ErrorEnvelope"]["required"] == ["error"]
    assert components["AsciinemaError"]["required"] == ["error", "code"]


def _documented(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_statuses_the_api_really_answers_are_documented(
    schema: dict[str, Any], admin_api: APIClient, admin_user: Any
) -> None:
    seen = {
        ("delete", "/api/v1/users/{id}"): admin_api.delete(f"/api/v1/users/{admin_user.pk}"),
        ("post", "/api/v1/users"): admin_api.post(
            "/api/v1/users", data="username=x", content_type="text/plain"
        ),
        ("post", "/api/v1/auth/login"): APIClient().post(
            "/api/v1/auth/login", {"username": "admin", "password": "wrong"}, format="json"
        ),
        ("get", "/api/v1/system/health"): APIClient(HTTP_AUTHORIZATION="Bearer not.a.jwt").get(
            "/api/v1/system/health"
        ),
        ("post", "/api/v1/streams"): APIClient(
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"user:not-an-install-id").decode()
        ).post("/api/v1/streams", {}, format="json"),
    }
    statuses = {key: str(response.status_code) for key, response in seen.items()}
    assert statuses == {
        ("delete", "/api/v1/users/{id}"): "409",
        ("post", "/api/v1/users"): "415",
        ("post", "/api/v1/auth/login"): "401",
        ("get", "/api/v1/system/health"): "401",
        ("post", "/api/v1/streams"): "401",
    }
    undocumented = [
        (key, status) for key, status in statuses.items() if status not in _documented(schema, *key)
    ]
    assert not undocumented


def test_the_refresh_of_a_locked_out_user_documents_its_429(schema: dict[str, Any]) -> None:
    assert "429" in _documented(schema, "post", "/api/v1/auth/refresh")
