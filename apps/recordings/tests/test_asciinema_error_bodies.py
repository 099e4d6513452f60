"""Error paths of the asciinema surface: every one answers `{"error": message, "code", …}`."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from django.utils import timezone

from apps.recordings import services
from apps.recordings.models import Recording
from apps.recordings.tests.factories import upload
from apps.recordings.tests.helpers import cli_client, linked_cli

pytestmark = pytest.mark.django_db


def asciinema_shaped(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["code"] == code, body
    return dict(body)


@pytest.mark.parametrize(
    ("path", "field"), [("/api/v1/recordings", "file"), ("/api/asciicasts", "asciicast")]
)
def test_a_request_over_the_limit_is_413_before_the_file_is_parsed(
    path: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("apps.recordings.conf.MAX_UPLOAD_BYTES", 100)
    parsed: list[object] = []
    monkeypatch.setattr(services, "parse_asciicast", lambda *a, **k: parsed.append(a))
    huge = upload(b'{"version": 2, "width": 80, "height": 24}\n' + b" " * 80_000)

    response = cli_client().post(path, {field: huge}, format="multipart")

    body = asciinema_shaped(response, 413, "asciicast.too_large")
    assert body["error"] == "The file is too large"  # the Content-Length check, not the service
    assert body["max_bytes"] == 100  # the limit, so the client knows what fits
    assert parsed == [] and not Recording.objects.exists()


def test_the_legacy_path_names_its_missing_field() -> None:
    response = cli_client().post("/api/asciicasts", {"title": "x"}, format="multipart")
    body = asciinema_shaped(response, 422, "validation.required")
    assert "`asciicast`" in body["error"]


def test_malformed_json_is_400_in_asciinema_shape() -> None:
    client = linked_cli()
    stream = client.post("/api/v1/streams", {}, format="json").json()
    recording = client.post("/api/v1/recordings", {"file": upload()}, format="multipart").json()
    for path in (f"/api/v1/streams/{stream['id']}", f"/api/v1/recordings/{recording['id']}"):
        response = client.patch(path, b"{not json", content_type="application/json")
        asciinema_shaped(response, 400, "request.invalid")


def test_an_unsupported_method_is_405_in_asciinema_shape() -> None:
    client = linked_cli()
    created = client.post("/api/v1/streams", {}, format="json").json()
    response = client.put(f"/api/v1/streams/{created['id']}", {}, format="json")
    body = asciinema_shaped(response, 405, "request.invalid")
    assert "PUT" in body["error"]


def test_invalid_stream_attributes_are_422_naming_the_field() -> None:
    client = linked_cli()
    response = client.post(
        "/api/v1/streams", {"visibility": "everyone", "audio_url": "not a url"}, format="json"
    )
    body = asciinema_shaped(response, 422, "validation.invalid")
    assert set(body["details"]) == {"visibility", "audio_url"}


def _cursor(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=-1",
        f"cursor={_cursor({'prefix': None})}",  # no id
        f"cursor={_cursor({'id': '7'})}",  # id not an integer
        f"cursor={_cursor([7])}",  # not an object
        "cursor=" + _cursor(b"\xff\xfe"),  # not UTF-8
    ],
)
def test_bad_limits_and_cursors_are_422(query: str) -> None:
    response = linked_cli().get(f"/api/v1/user/streams?{query}")
    asciinema_shaped(response, 422, "validation.invalid")


def test_a_hidden_recording_is_410_for_get_and_delete() -> None:
    client = cli_client()
    created = client.post("/api/v1/recordings", {"file": upload()}, format="multipart").json()
    Recording.objects.filter(pk=created["id"]).update(hidden_at=timezone.now())

    asciinema_shaped(client.get(f"/api/v1/recordings/{created['id']}"), 410, "recording.gone")
    asciinema_shaped(client.delete(f"/api/v1/recordings/{created['id']}"), 410, "recording.gone")
    assert Recording.objects.filter(pk=created["id"]).exists()
    listed = client.get("/api/v1/recordings").json()
    assert listed == []  # nor listed


def test_a_server_bug_is_a_logged_500_in_asciinema_shape(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "recording_create_terminal", broken)
    client = cli_client()
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/recordings", {"file": upload()}, format="multipart")

    body = asciinema_shaped(response, 500, "server.error")
    assert "disk on fire" not in json.dumps(body)
    assert "disk on fire" in caplog.text
    assert client.install_id not in caplog.text  # type: ignore[attr-defined]
