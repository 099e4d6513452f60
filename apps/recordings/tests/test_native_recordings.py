"""Native /api/v1/recordings: list (paginated, filtered, restricted), detail, delete, upload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.recordings.models import Recording
from apps.recordings.tests.factories import a_recording, a_video, upload

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
    assert item["kind"] == "video" and item["has_audio"] is False and item["has_video"] is True
    assert item["status"] == "available"
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


def test_native_fields_are_snake_case_for_every_kind(operator_api: APIClient) -> None:
    a_recording()
    a_recording(kind="video", session_id="ses_1", has_audio=False)

    items = operator_api.get("/api/v1/recordings").json()["items"]

    for item in items:
        assert [key for key in item if not re.fullmatch(r"[a-z][a-z0-9_]*", key)] == []
        assert {"session_id", "has_audio", "has_video", "created_at"} <= set(item)
    video = next(item for item in items if item["kind"] == "video")
    assert (video["session_id"], video["has_audio"]) == ("ses_1", False)


def test_the_detail_takes_the_url_token_of_a_video_recording(viewer_api: APIClient) -> None:
    video = a_video(visibility="unlisted", resolution="320x240")

    response = viewer_api.get(f"/api/v1/recordings/{video.url_token}")

    assert response.status_code == 200
    assert response.json()["id"] == video.pk and response.json()["kind"] == "video"
    # The id alone does not open someone else's unlisted recording; the token does.
    assert viewer_api.get(f"/api/v1/recordings/{video.pk}").status_code == 404


def test_the_url_token_opens_no_more_than_the_page_does(
    viewer_api: APIClient, client_for: Any
) -> None:
    private = a_video(visibility="private")
    response = viewer_api.get(f"/api/v1/recordings/{private.url_token}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert viewer_api.get("/api/v1/recordings/no-such-token").status_code == 404
    own_private = a_video(visibility="private")
    assert (
        client_for(own_private.owner).get(f"/api/v1/recordings/{own_private.url_token}").status_code
        == 200
    )


def test_operators_patch_and_delete_a_video_by_its_url_token(operator_api: APIClient) -> None:
    video = a_video(visibility="unlisted")

    patched = operator_api.patch(
        f"/api/v1/recordings/{video.url_token}", {"title": "Studio B"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["title"] == "Studio B"

    assert operator_api.delete(f"/api/v1/recordings/{video.url_token}").status_code == 204
    assert not Recording.objects.filter(pk=video.pk).exists()
