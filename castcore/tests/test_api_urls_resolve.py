"""Every URL the recordings API returns leads somewhere (asset urls: apps/media/tests)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.recordings.tests.factories import a_recording, a_video

pytestmark = pytest.mark.django_db

URL_FIELDS = ("url", "file_url", "download_url")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize("visibility", ["public", "unlisted"])
@pytest.mark.parametrize("make", [a_recording, a_video], ids=["terminal", "video"])
def test_shared_recordings_urls_work_for_anyone_with_the_link(
    client_for: Any, make: Any, visibility: str
) -> None:
    recording = make(visibility=visibility)
    body = client_for(recording.owner).get(f"/api/v1/recordings/{recording.pk}").json()
    assert all(body[name] for name in URL_FIELDS), body
    anonymous = Client()
    for name in ("url", "file_url"):
        assert anonymous.get(_path(body[name])).status_code == 200, (name, body[name])
    # The API's own download needs the API's credentials.
    assert client_for(recording.owner).get(_path(body["download_url"])).status_code == 200


def test_a_private_recordings_urls_work_for_its_owner(client_for: Any) -> None:
    recording = a_recording(visibility="private")
    body = client_for(recording.owner).get(f"/api/v1/recordings/{recording.pk}").json()
    assert client_for(recording.owner).get(_path(body["download_url"])).status_code == 200
    site = Client()
    site.force_login(recording.owner)
    for name in ("url", "file_url"):
        assert site.get(_path(body[name])).status_code == 200, (name, body[name])
    for name in ("url", "file_url"):
        assert Client().get(_path(body[name])).status_code == 404
