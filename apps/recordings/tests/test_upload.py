"""POST /api/v1/recordings with an install ID: asciicast v1, v2, v3 and garbage."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.accounts.models import CliInstall, User
from apps.recordings.models import Recording
from apps.recordings.tests.conftest import DATA
from apps.recordings.tests.factories import upload
from apps.recordings.tests.helpers import cli_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "version", "cols", "rows"),
    [("hand-v1.json", 1, 80, 24), ("real-v2.cast", 2, 80, 24), ("hand-v3.cast", 3, 100, 30)],
)
def test_it_stores_every_asciicast_version(
    name: str, version: int, cols: int, rows: int, media_root: Path
) -> None:
    data = (DATA / name).read_bytes()
    client = cli_client()

    response = client.post("/api/v1/recordings", {"file": upload(data, name)}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "file_url", "audio_url", "title", "description", "visibility"}
    recording = Recording.objects.get(pk=body["id"])
    assert response["Location"] == body["url"] == f"http://testserver/r/{recording.url_token}"
    assert body["file_url"] == f"http://testserver/r/{recording.url_token}.cast"
    assert body["visibility"] == "unlisted" and body["audio_url"] is None
    assert (recording.asciicast_version, recording.cols, recording.rows) == (version, cols, rows)
    assert recording.duration > 0 and recording.size == len(data)
    assert (media_root / recording.file.name).read_bytes() == data


def test_the_duration_is_computed_from_the_events() -> None:
    data = b'{"version": 2, "width": 10, "height": 5}\n[0.5, "o", "a"]\n[3.25, "o", "b"]\n'
    response = cli_client().post("/api/v1/recordings", {"file": upload(data)}, format="multipart")
    assert Recording.objects.get(pk=response.json()["id"]).duration == 3.25


def test_garbage_is_a_422_with_line_details_and_writes_nothing(media_root: Path) -> None:
    data = b'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "ok"]\nnot json\n[0.2, "o"]\n'
    response = cli_client().post("/api/v1/recordings", {"file": upload(data)}, format="multipart")

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "asciicast.bad_event"
    assert [d["line"] for d in body["details"]] == [3, 4]
    assert "Invalid asciicast" in body["error"]
    assert not Recording.objects.exists()
    assert not any(p.is_file() for p in media_root.rglob("*")) if media_root.exists() else True


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b'{"version": 9}\n', b"<html>"])
def test_non_asciicasts_are_422(data: bytes) -> None:
    response = cli_client().post("/api/v1/recordings", {"file": upload(data)}, format="multipart")
    assert response.status_code == 422, response.content
    assert response.json()["code"].startswith("asciicast.")


def test_a_missing_file_field_is_422() -> None:
    response = cli_client().post("/api/v1/recordings", {"title": "x"}, format="multipart")
    assert response.status_code == 422
    assert response.json()["code"] == "validation.required"


def test_files_over_the_limit_are_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("apps.recordings.conf.MAX_UPLOAD_BYTES", 100)
    data = b'{"version": 2, "width": 80, "height": 24}\n' + b'[0.1, "o", "xxxxxxxxxx"]\n' * 10
    response = cli_client().post("/api/v1/recordings", {"file": upload(data)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["code"] == "asciicast.too_large"
    assert not Recording.objects.exists()


def test_an_unknown_install_id_gets_a_temporary_account() -> None:
    client = cli_client()
    first = client.post("/api/v1/recordings", {"file": upload()}, format="multipart")
    second = client.post("/api/v1/recordings", {"file": upload()}, format="multipart")

    owners = set(
        Recording.objects.filter(pk__in=[first.json()["id"], second.json()["id"]]).values_list(
            "owner", flat=True
        )
    )
    assert len(owners) == 1
    owner = User.objects.get(pk=owners.pop())
    assert owner.is_temporary and not owner.has_usable_password()
    install = CliInstall.objects.get(user=owner)
    assert client.install_id not in (install.install_id_hash, install.last4 * 9)  # type: ignore[attr-defined]
    assert install.last4 == client.install_id[-4:]  # type: ignore[attr-defined]
