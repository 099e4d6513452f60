"""Recording files over HTTP: 200, 206 ranges, 416, If-Range, ETag; visibility on file URLs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.recordings.tests.factories import CAST_V2, a_recording

pytestmark = pytest.mark.django_db


def content(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_api_serves_the_whole_file(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file")
    assert response.status_code == 200 and content(response) == CAST_V2
    assert response["Accept-Ranges"] == "bytes" and response["ETag"]
    assert response["Content-Disposition"].startswith("attachment")


def test_a_range_is_a_206_with_content_range(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE="bytes=2-9")
    assert response.status_code == 206
    assert content(response) == CAST_V2[2:10]
    assert (
        response["Content-Range"] == f"bytes 2-9/{len(CAST_V2)}"
        and response["Content-Length"] == "8"
    )
    suffix = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE="bytes=-5")
    assert content(suffix) == CAST_V2[-5:]
    open_ended = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=10-")
    assert open_ended.status_code == 206 and content(open_ended) == CAST_V2[10:]


def test_an_unsatisfiable_range_is_416(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(
        f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE=f"bytes={len(CAST_V2)}-"
    )
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(CAST_V2)}"


def test_if_range_with_a_stale_etag_gets_the_whole_file() -> None:
    recording = a_recording()
    etag = Client().get(f"/r/{recording.pk}.cast")["ETag"]
    fresh = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=etag)
    stale = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"old"')
    assert fresh.status_code == 206 and stale.status_code == 200
    assert Client().get(f"/r/{recording.pk}.cast", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_file_urls_follow_visibility() -> None:
    unlisted = a_recording(visibility="unlisted")
    private = a_recording(visibility="private")
    assert Client().get(f"/r/{unlisted.pk}.cast").status_code == 404
    assert Client().get(f"/r/{unlisted.url_token}.cast").status_code == 200
    assert Client().get(f"/r/{private.url_token}.cast").status_code == 404
    owner = Client()
    owner.force_login(private.owner)
    assert owner.get(f"/r/{private.url_token}.cast").status_code == 200
