"""Recording a channel for a replay: turned on through the channel's API, what it airs
becomes a video recording linked to the channel, published through /api/v1/replay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.channels.models import Channel
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start
from apps.channels.tests.play_helpers import air, colour_library, colours_of, playing_channel
from apps.recordings.models import Recording
from apps.streams.models import ExitReason, RunState, StreamJob
from apps.streams.tests.helpers import run_row, start_supervised, wait_until


def _toggle(api: APIClient, channel: Channel, enabled: Any) -> Any:
    return api.post(f"/api/v1/channels/{channel.pk}/recording", {"enabled": enabled}, format="json")


@pytest.mark.django_db
def test_recording_a_channel_that_never_played_applies_from_its_first_start(
    operator_api: APIClient, operator_user: Any
) -> None:
    channel = playing_channel()
    response = _toggle(operator_api, channel, True)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applies"] == "next_start" and body["recording_enabled"] is True
    assert body["wanted"] is False and body["state"] == "stopped"
    # Its job is made now, so the setting has somewhere to live until the channel plays.
    job = StreamJob.objects.get(pk=body["job"])
    assert job.recording_enabled and job.owner == operator_user
    assert ChannelPlayer.objects.get(channel=channel).job_id == job.pk

    shown = operator_api.get(f"/api/v1/channels/{channel.pk}").json()
    assert shown["recording_enabled"] is True and shown["job"] == job.pk
    # A recording's stream_job_id finds its channel.
    found = operator_api.get(f"/api/v1/channels?job={job.pk}").json()
    assert [c["id"] for c in found["items"]] == [channel.pk]
    assert _toggle(operator_api, channel, True).json()["applies"] == "unchanged"
    assert AuditEntry.objects.filter(action="channel.recording").count() == 1

    off = _toggle(operator_api, channel, False).json()
    assert off["recording_enabled"] is False and off["applies"] == "next_start"
    assert not StreamJob.objects.get(pk=job.pk).recording_enabled


@pytest.mark.django_db
def test_a_channel_not_recorded_shows_no_job_and_recording_off(operator_api: APIClient) -> None:
    channel = playing_channel()
    shown = operator_api.get(f"/api/v1/channels/{channel.pk}").json()
    assert shown["job"] is None and shown["recording_enabled"] is False


@pytest.mark.django_db
def test_the_recording_toggle_refuses_viewers_bad_values_and_channels_without_a_profile(
    operator_api: APIClient, viewer_api: APIClient
) -> None:
    channel = playing_channel()
    assert _toggle(viewer_api, channel, True).status_code == 403
    bad = _toggle(operator_api, channel, "maybe")
    assert bad.status_code == 400 and bad.json()["error"]["code"].startswith("validation.")
    assert not ChannelPlayer.objects.filter(channel=channel).exists()
    bare = playing_channel(number=8, slug="bare", output_profile=None)
    refused = _toggle(operator_api, bare, True)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "channel.profile_required"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_recorded_channel_becomes_a_recording_of_what_it_aired_and_a_replay(
    operator_api: APIClient, operator_user: Any, tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    items = colour_library(tmp_path / "clips", {"red": 20.0, "green": 20.0})
    channel = playing_channel()
    start = timezone.now() - timedelta(seconds=1)
    air(channel, start, [(items["red"], 8.0), (items["green"], 20.0)])
    # Played by the periodic step (no one asked): its job has no owner yet.
    player = channel_start(actor=None, channel=channel)
    job = StreamJob.objects.get(pk=player.job_id)
    assert job.owner is None
    thread = start_supervised(job)
    first = wait_until(lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r)
    wait_until(lambda: any(hls_dir(channel.pk).glob("*.ts")), timeout=30)

    turned_on = _toggle(operator_api, channel, True).json()
    assert turned_on["applies"] == "restarted" and turned_on["job"] == job.pk
    # The same run restarts its ffmpeg with the recording output; the channel plays on.
    run = wait_until(lambda: (r := run_row(job)).recording and r.pid != first.pid and r)
    assert run.pk == first.pk
    # Record across the item boundary (red until start + 8 s, then green).
    wait_until(lambda: timezone.now() >= start + timedelta(seconds=11), timeout=40)
    stopped = operator_api.post(f"/api/v1/channels/{channel.pk}/stop")
    assert stopped.status_code == 200
    thread.join(20)
    assert thread.result == ExitReason.STOPPED

    listed = operator_api.get(f"/api/v1/recordings?stream_job={job.pk}").json()
    assert listed["total"] == 1, listed
    shown = listed["items"][0]
    assert shown["kind"] == "video" and shown["status"] == "available"
    assert shown["owner"] == operator_user.pk and shown["stream_job_id"] == job.pk
    linked = operator_api.get(f"/api/v1/channels?job={shown['stream_job_id']}").json()
    assert [c["id"] for c in linked["items"]] == [channel.pk]

    # The file is what the channel aired: red, then green from the boundary on.
    recording = Recording.objects.get(pk=shown["id"])
    path = Path(settings.MEDIA_ROOT) / recording.file.name
    colours = colours_of(path, 0.5)
    assert colours[0] == "red" and colours[-1] == "green", colours
    assert set(colours) == {"red", "green"}, colours
    assert 3.0 <= recording.duration <= 15.0

    published = operator_api.post(
        "/api/v1/replay",
        {"recording": recording.pk, "title": "Colours, recorded", "visibility": "public"},
        format="json",
    )
    assert published.status_code == 201, published.content
    replay = published.json()
    assert replay["published"] is True and replay["duration"] == pytest.approx(recording.duration)
    page = operator_api.get(replay["page_url"])
    assert page.status_code == 200
