"""POST /api/asciicasts: what asciinema 2.x sends (field `asciicast`), answered as it reads it."""

from __future__ import annotations

import pytest

from apps.recordings.models import Recording
from apps.recordings.tests.conftest import DATA
from apps.recordings.tests.factories import upload
from apps.recordings.tests.helpers import cli_client

pytestmark = pytest.mark.django_db


def test_it_creates_a_recording_and_answers_url_and_message() -> None:
    response = cli_client().post(
        "/api/asciicasts",
        {"asciicast": upload((DATA / "real-v2.cast").read_bytes(), "ascii.cast")},
        format="multipart",
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    body = response.json()
    recording = Recording.objects.get(pk=body["id"])
    assert body["url"] == response["Location"] == f"http://testserver/r/{recording.url_token}"
    assert body["url"] in body["message"] and "asciinema auth" in body["message"]


def test_garbage_is_a_422_the_cli_prints() -> None:
    response = cli_client().post(
        "/api/asciicasts", {"asciicast": upload(b"nope")}, format="multipart"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "asciicast.bad_header"
    assert not Recording.objects.exists()


def test_it_needs_the_install_id() -> None:
    from rest_framework.test import APIClient

    assert (
        APIClient().post("/api/asciicasts", {"asciicast": upload()}, format="multipart").status_code
        == 401
    )
