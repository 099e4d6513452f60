"""/api/v1/replay: publish a finished recording, change it, who sees what."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.channels.replays.models import Replay
from apps.channels.scheduling.models import ActionKind
from apps.channels.scheduling.services import scheduled_actions_run_due
from apps.channels.tests.factories import a_replay, a_video, an_action
from apps.recordings.models import Recording, Visibility
from apps.recordings.tests.factories import RecordingFactory

pytestmark = pytest.mark.django_db


def test_an_operator_publishes_a_finished_recording(operator_api: APIClient) -> None:
    recording = a_video(title="Match day", duration=42.0)
    response = operator_api.post(
        "/api/v1/replay",
        {"recording": recording.pk, "description": "Full match", "visibility": "public"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Match day" and body["published"] is True
    assert body["duration"] == 42.0 and body["page_url"] == f"/r/{recording.url_token}"
    assert "publish" not in body
    assert AuditEntry.objects.filter(action="replay.create").count() == 1


def test_a_recording_is_published_once(operator_api: APIClient) -> None:
    replay = a_replay()
    response = operator_api.post(
        "/api/v1/replay", {"recording": replay.recording_id}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "replay.already_exists"


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda: RecordingFactory(), 400, "replay.recording_not_video"),
        (lambda: a_video(status=Recording.Status.STARTED), 409,
         "replay.recording_not_finished"),
        (lambda: a_video(status=Recording.Status.FAILED), 409,
         "replay.recording_not_finished"),
        (lambda: a_video(file=""), 409, "replay.recording_not_finished"),
    ],
)  # fmt: skip
def test_only_finished_videos_become_replays(
    operator_api: APIClient, make: Any, status: int, code: str
) -> None:
    response = operator_api.post("/api/v1/replay", {"recording": make().pk}, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Replay.objects.exists()


@pytest.mark.parametrize("recording", [0, 999999, "x", None])
def test_an_unknown_recording_is_a_400(operator_api: APIClient, recording: Any) -> None:
    response = operator_api.post("/api/v1/replay", {"recording": recording}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "recording"


def test_patch_changes_title_description_and_visibility_not_the_recording(
    operator_api: APIClient,
) -> None:
    replay = a_replay()
    other = a_video()
    response = operator_api.patch(
        f"/api/v1/replay/{replay.pk}",
        {"title": "Renamed", "description": "**new**", "visibility": "unlisted",
         "recording": other.pk},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    replay.refresh_from_db()
    assert (replay.title, replay.description, replay.visibility) == (
        "Renamed", "**new**", "unlisted",
    )  # fmt: skip
    assert replay.recording_id != other.pk
    bad = operator_api.patch(f"/api/v1/replay/{replay.pk}", {"visibility": "x"}, format="json")
    assert bad.json()["error"]["code"] == "validation.invalid_choice"
    blank = operator_api.patch(f"/api/v1/replay/{replay.pk}", {"title": ""}, format="json")
    assert (blank.status_code, blank.json()["error"]["code"]) == (400, "validation.blank")
    assert operator_api.delete(f"/api/v1/replay/{replay.pk}").status_code == 405


def test_publishing_a_private_recording_opens_its_page_by_token(operator_api: APIClient) -> None:
    recording = a_video(visibility=Visibility.PRIVATE)
    operator_api.post("/api/v1/replay", {"recording": recording.pk}, format="json")
    recording.refresh_from_db()
    assert recording.visibility == Visibility.UNLISTED


def test_a_draft_stays_private_until_its_scheduled_publish(operator_api: APIClient) -> None:
    recording = a_video(visibility=Visibility.PRIVATE)
    body = operator_api.post(
        "/api/v1/replay", {"recording": recording.pk, "publish": False}, format="json"
    ).json()
    assert body["published"] is False and body["published_at"] is None
    recording.refresh_from_db()
    assert recording.visibility == Visibility.PRIVATE
    action = an_action(kind=ActionKind.REPLAY_PUBLISH, replay=Replay.objects.get(pk=body["id"]))
    scheduled_actions_run_due(now=action.starts_at)
    assert operator_api.get(f"/api/v1/replay/{body['id']}").json()["published"] is True
    recording.refresh_from_db()
    assert recording.visibility == Visibility.UNLISTED


def test_viewers_see_public_published_replays_only(
    viewer_api: APIClient, operator_api: APIClient
) -> None:
    public = a_replay()
    a_replay(visibility=Visibility.UNLISTED)
    a_replay(visibility=Visibility.PRIVATE)
    a_replay(published_at=None)
    assert [item["id"] for item in viewer_api.get("/api/v1/replay").json()["items"]] == [public.pk]
    assert operator_api.get("/api/v1/replay").json()["total"] == 4
    assert operator_api.get("/api/v1/replay?published=false").json()["total"] == 1
    response = viewer_api.post("/api/v1/replay", {"recording": a_video().pk})
    assert response.status_code == 403
