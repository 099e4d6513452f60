"""Native /api/v1/recordings: list (paginated, filtered, restricted), detail, delete, upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.recordings.models import Recording
from apps.recordings.tests.factories import a_recording, upload

pytestmark = pytest.mark.django_db


def test_viewers_see_their_own_and_public_recordings(
    viewer_api: APIClient, viewer_user: Any
) -> None:
    own = a_recording(owner=viewer_user, visibility="private")
    public = a_recording(visibility="public")
    a_recording(visibility="unlisted")
    a_recording(visibility="private")

    body = viewer_api.get("/api/v1/recordings").json()

    assert body["total"] == 2 and {item["id"] for item in body["items"]} == {own.pk, public.pk}
    assert viewer_api.get(f"/api/v1/recordings/{own.pk}").status_code == 200
    hidden = a_recording(visibility="unlisted")
    assert viewer_api.get(f"/api/v1/recordings/{hidden.pk}").json()["error"]["code"] == "not_found"


def test_operators_see_everything_with_filters(operator_api: APIClient) -> None:
    terminal = a_recording(visibility="private", title="deploy log")
    video = a_recording(kind="video", visibility="unlisted", title="Studio A", has_audio=False)

    assert operator_api.get("/api/v1/recordings").json()["total"] == 2
    assert [i["id"] for i in operator_api.get("/api/v1/recordings?kind=video").json()["items"]] == [
        video.pk
    ]
    assert [i["id"] for i in operator_api.get("/api/v1/recordings?q=deploy").json()["items"]] == [
        terminal.pk
    ]
    assert [
        i["id"] for i in operator_api.get("/api/v1/recordings?visibility=private").json()["items"]
    ] == [terminal.pk]
    owner_filter = operator_api.get(f"/api/v1/recordings?owner={video.owner_id}").json()
    assert [i["id"] for i in owner_filter["items"]] == [video.pk]
    page = operator_api.get("/api/v1/recordings?limit=1&offset=1").json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 1, 1)

    item = operator_api.get(f"/api/v1/recordings/{video.pk}").json()
    assert item["kind"] == "video" and item["hasAudio"] is False and item["hasVideo"] is True
    assert item["createdAt"] == video.created_at_ms and item["status"] == "available"
    assert item["url"] == f"http://testserver/r/{video.url_token}"


def test_operators_delete_and_the_file_goes(
    operator_api: APIClient, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    recording = a_recording()
    path = media_root / recording.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_api.delete(f"/api/v1/recordings/{recording.pk}").status_code == 204
    assert not Recording.objects.exists() and not path.exists()


def test_viewers_cannot_delete(viewer_api: APIClient, viewer_user: Any) -> None:
    recording = a_recording(owner=viewer_user)
    response = viewer_api.delete(f"/api/v1/recordings/{recording.pk}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission.denied"


def test_operators_upload_with_a_bearer_token(operator_api: APIClient, operator_user: Any) -> None:
    response = operator_api.post(
        "/api/v1/recordings", {"file": upload(), "title": "Mine"}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "terminal" and response.json()["title"] == "Mine"
    assert Recording.objects.get().owner == operator_user
    garbage = operator_api.post("/api/v1/recordings", {"file": upload(b"x")}, format="multipart")
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "asciicast.bad_header"
    assert garbage.json()["error"]["params"]["details"][0]["line"] == 1


def test_hidden_recordings_answer_410_to_non_staff(viewer_api: APIClient, viewer_user: Any) -> None:
    from django.utils import timezone

    recording = a_recording(owner=viewer_user, hidden_at=timezone.now())
    assert viewer_api.get(f"/api/v1/recordings/{recording.pk}").status_code == 410
