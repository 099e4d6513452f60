"""The OpenAPI schema documents the errors each operation really answers, in its own shape."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.media.tests.factories import make_item, make_s3_source, make_smb_source
from apps.media.tests.storage_servers import free_port
from apps.recordings.tests.factories import a_recording
from castcore.asgi import application

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


def _schemas(operation: dict[str, Any], status: str) -> list[Any]:
    """The error bodies documented for a status (none when it is not documented)."""
    if status not in operation["responses"]:
        return []
    schema = _error_schema(operation, status)
    return list(schema.get("oneOf", [schema]))


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
    # asciinema validation errors are 422; a 400 is only the web server's, in the envelope.
    assert _error_schema(operation, "400") == ENVELOPE


def test_paths_shared_with_asciinema_document_both_shapes(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/v1/recordings/{key}"]["get"]
    assert _error_schema(operation, "401") == {"oneOf": [ENVELOPE, ASCIINEMA]}


def test_the_error_components_are_defined(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["ErrorEnvelope"]["required"] == ["error"]
    assert components["AsciinemaError"]["required"] == ["error", "code"]


def _documented(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def _asgi_status(method: str, path: str, body_length: int) -> int:
    """The status the real ASGI application answers to a request declaring this body length.

    The body limit (castcore/bodies.py) lives in the ASGI application, which the
    test client does not go through.
    """
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"localhost"), (b"content-length", str(body_length).encode())],
    }  # fmt: skip

    async def answer() -> int:
        communicator = ApplicationCommunicator(application, scope)
        # No body is ever sent: a declared length over the limit is refused unread.
        start = await communicator.receive_output(timeout=10)
        await communicator.wait(timeout=10)
        return int(start["status"])

    return async_to_sync(answer)()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_statuses_the_api_really_answers_are_documented(
    schema: dict[str, Any],
    admin_api: APIClient,
    admin_user: Any,
    viewer_api: APIClient,
    viewer_user: Any,
    silent_port: int,
) -> None:
    hidden = a_recording(owner=viewer_user, hidden_at=timezone.now())
    smb = make_smb_source()
    closed_port = free_port()  # nothing listens there: connections are refused
    unreachable = make_item(source=make_s3_source(endpoint_url=f"http://127.0.0.1:{closed_port}"))
    silent = make_item(source=make_s3_source(endpoint_url=f"http://127.0.0.1:{silent_port}"))
    over_limit = settings.REQUEST_BODY_MAX_BYTES + 1
    seen = [
        (("delete", "/api/v1/users/{id}"), admin_api.delete(f"/api/v1/users/{admin_user.pk}")),
        (
            ("post", "/api/v1/users"),
            admin_api.post("/api/v1/users", data="username=x", content_type="text/plain"),
        ),
        (
            ("post", "/api/v1/auth/login"),
            APIClient().post(
                "/api/v1/auth/login", {"username": "admin", "password": "wrong"}, format="json"
            ),
        ),
        (
            ("get", "/api/v1/system/health"),
            APIClient(HTTP_AUTHORIZATION="Bearer not.a.jwt").get("/api/v1/system/health"),
        ),
        (
            ("post", "/api/v1/streams"),
            APIClient(
                HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"user:not-an-install-id").decode()
            ).post("/api/v1/streams", {}, format="json"),
        ),
        # A NUL in the URL, on a native and on an asciinema-only route.
        (("get", "/api/v1/system/health"), APIClient().get("/api/v1/system/health?q=%00")),
        (("post", "/api/v1/streams"), APIClient().post("/api/v1/streams?q=%00")),
        # A recording an admin hid, to its (non-staff) owner.
        (("get", "/api/v1/recordings/{key}"), viewer_api.get(f"/api/v1/recordings/{hidden.pk}")),
        (
            ("get", "/api/v1/recordings/{key}/file"),
            viewer_api.get(f"/api/v1/recordings/{hidden.pk}/file"),
        ),
        # This machine cannot mount SMB (no cifs module or helper, or no privilege).
        (
            ("post", "/api/v1/mounts/{source_id}/mount"),
            admin_api.post(f"/api/v1/mounts/{smb.pk}/mount"),
        ),
        # Media on an S3 endpoint that refuses connections, and on one that never answers.
        (
            ("post", "/api/v1/media/{id}/probe"),
            admin_api.post(f"/api/v1/media/{unreachable.pk}/probe"),
        ),
        (
            ("get", "/api/v1/media/{id}/thumbnail"),
            admin_api.get(f"/api/v1/media/{silent.pk}/thumbnail"),
        ),
    ]
    statuses = [(key, str(response.status_code)) for key, response in seen]
    # The body limit, on a POST that declares no body.
    statuses.append(
        (
            ("post", "/api/v1/stream-jobs/{id}/start"),
            str(_asgi_status("POST", "/api/v1/stream-jobs/1/start", over_limit)),
        )
    )
    assert statuses == [
        (("delete", "/api/v1/users/{id}"), "409"),
        (("post", "/api/v1/users"), "415"),
        (("post", "/api/v1/auth/login"), "401"),
        (("get", "/api/v1/system/health"), "401"),
        (("post", "/api/v1/streams"), "401"),
        (("get", "/api/v1/system/health"), "400"),
        (("post", "/api/v1/streams"), "400"),
        (("get", "/api/v1/recordings/{key}"), "410"),
        (("get", "/api/v1/recordings/{key}/file"), "410"),
        (("post", "/api/v1/mounts/{source_id}/mount"), "422"),
        (("post", "/api/v1/media/{id}/probe"), "502"),
        (("get", "/api/v1/media/{id}/thumbnail"), "504"),
        (("post", "/api/v1/stream-jobs/{id}/start"), "413"),
    ]
    undocumented = [
        (key, status) for key, status in statuses if status not in _documented(schema, *key)
    ]
    assert not undocumented


def _plain_400(path: str, operation: dict[str, Any]) -> bool:
    content = operation["responses"].get("400", {}).get("content", {})
    return not path.startswith("/api/") and "text/html" in content


def test_every_operation_documents_the_400_of_a_nul_in_its_url(schema: dict[str, Any]) -> None:
    # In the envelope under /api/; the IPTV routes outside it get Django's plain 400.
    missing = [
        f"{method} {path}"
        for path, method, operation in _operations(schema)
        if not _plain_400(path, operation) and ENVELOPE not in _schemas(operation, "400")
    ]
    assert not missing


def test_every_unsafe_method_documents_the_413_of_the_body_limit(schema: dict[str, Any]) -> None:
    missing = [
        f"{method} {path}"
        for path, method, operation in _operations(schema)
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
        and ENVELOPE not in _schemas(operation, "413")
    ]
    assert not missing


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/recordings/{key}", "410"),
        ("delete", "/api/v1/recordings/{key}", "410"),
        ("get", "/api/v1/recordings/{key}/file", "410"),
        ("post", "/api/v1/storage-sources/{id}/scan", "503"),
        ("get", "/api/v1/media/{id}/thumbnail", "503"),
        ("post", "/api/v1/mounts/{source_id}/unmount", "504"),
    ],
)
def test_statuses_a_view_declares_are_documented(
    schema: dict[str, Any], method: str, path: str, status: str
) -> None:
    assert status in _documented(schema, method, path)


def test_an_action_declares_its_statuses_for_itself_only(schema: dict[str, Any]) -> None:
    # The 503 of a scan is the scan's, not every storage-source operation's.
    assert "503" not in _documented(schema, "post", "/api/v1/storage-sources/{id}/test")
    assert "502" not in _documented(schema, "get", "/api/v1/media/{id}")


def test_the_refresh_of_a_locked_out_user_documents_its_429(schema: dict[str, Any]) -> None:
    assert "429" in _documented(schema, "post", "/api/v1/auth/refresh")
