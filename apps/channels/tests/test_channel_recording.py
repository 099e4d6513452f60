"""Recording a channel for a replay: turned on through the channel's API, what it airs
becomes a video recording linked to the channel, published through /api/v1/replay."""

from __future__ import annotations

from datetime import time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.channels.models import (
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.play import conf
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop, channels_keep_playing
from apps.channels.selectors import playout_at
from apps.channels.services.playlists import playlist_item_add, playlist_item_remove
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.play_helpers import (
    SegmentCollector,
    air,
    colour_library,
    colours_of,
    playing_channel,
    probe,
)
from apps.recordings.models import Recording
from apps.streams.models import ExitReason, RunState, StreamJob
from apps.streams.tests.helpers import run_row, start_supervised, wait_until

HORIZON = timedelta(minutes=10)  # a week of 6-second rows is not what this is about
ITEM_SECONDS = 6.0
WINDOW_SECONDS = 10  # the setting's least: each ffmpeg gets two items or so


def _colour(row: PlayoutRow) -> str:
    assert row.media_item is not None
    return row.media_item.relpath.removesuffix(".mp4")


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
    # Its jobs are made now, so the setting has somewhere to live until the channel plays:
    # the relay records, the job that plays it does not (it is replaced every window).
    player = ChannelPlayer.objects.get(channel=channel)
    assert player.job_id == body["job"] and player.relay_job is not None
    assert body["recording_job"] == player.relay_job.pk != body["job"]
    relay = StreamJob.objects.get(pk=body["recording_job"])
    assert relay.recording_enabled and relay.owner == operator_user
    assert not relay.outputs.exists()  # it records only: the channel has no restream output
    assert not StreamJob.objects.get(pk=body["job"]).recording_enabled

    shown = operator_api.get(f"/api/v1/channels/{channel.pk}").json()
    assert shown["recording_enabled"] is True and shown["job"] == body["job"]
    assert shown["recording_job"] == relay.pk
    # A recording's stream_job_id finds its channel; so does the job that plays it.
    for job_id in (relay.pk, body["job"]):
        found = operator_api.get(f"/api/v1/channels?job={job_id}").json()
        assert [c["id"] for c in found["items"]] == [channel.pk]
    assert _toggle(operator_api, channel, True).json()["applies"] == "unchanged"
    assert AuditEntry.objects.filter(action="channel.recording").count() == 1

    off = _toggle(operator_api, channel, False).json()
    assert off["recording_enabled"] is False and off["applies"] == "next_start"
    assert not StreamJob.objects.get(pk=relay.pk).recording_enabled
    assert operator_api.get(f"/api/v1/channels/{channel.pk}").json()["recording_enabled"] is False


@pytest.mark.django_db
def test_recording_starts_the_relay_of_a_playing_channel_and_its_end_stops_it(
    operator_api: APIClient,
) -> None:
    channel = playing_channel()
    player = channel_start(actor=None, channel=channel)
    assert player.relay_job is None  # nothing to relay yet
    on = _toggle(operator_api, channel, True).json()
    assert on["applies"] == "restarted"
    relay = StreamJob.objects.get(pk=on["recording_job"])
    assert relay.desired_state == "running" and relay.state in ("starting", "running")
    # The periodic step keeps it: the channel records.
    ChannelPlayer.objects.filter(pk=player.pk).update(last_viewer_at=timezone.now())
    channels_keep_playing()
    assert StreamJob.objects.get(pk=relay.pk).desired_state == "running"

    off = _toggle(operator_api, channel, False).json()
    assert off["applies"] == "restarted"  # the recording ends now: its relay stops
    assert StreamJob.objects.get(pk=relay.pk).desired_state == "stopped"
    # Started again, the channel does not start a relay that has nothing to do.
    channel_stop(actor=None, channel=channel)
    channel_start(actor=None, channel=channel)
    assert StreamJob.objects.get(pk=relay.pk).desired_state == "stopped"


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


def _recordings(api: APIClient, channel: Channel) -> list[dict[str, Any]]:
    """The channel's recordings, found as a client finds them: through its recording_job."""
    recording_job = api.get(f"/api/v1/channels/{channel.pk}").json()["recording_job"]
    listed = api.get(f"/api/v1/recordings?stream_job={recording_job}").json()
    items: list[dict[str, Any]] = listed["items"]
    return items


def _file(recording_id: int, settings: Any) -> Path:
    return Path(settings.MEDIA_ROOT) / Recording.objects.get(pk=recording_id).file.name


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_recording_is_one_file_across_window_ends_and_a_schedule_change_and_a_replay(
    operator_api: APIClient,
    operator_user: Any,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(conf, "WINDOW_SECONDS", WINDOW_SECONDS)
    colours = ("red", "green", "blue", "yellow")
    items = colour_library(tmp_path / "clips", dict.fromkeys(colours, ITEM_SECONDS))
    channel = playing_channel()
    playlist = Playlist.objects.create(name="Colours")
    for position, colour in enumerate(("red", "green", "blue")):
        PlaylistItem.objects.create(
            playlist=playlist, position=position, kind=ItemKind.MEDIA, media_item=items[colour]
        )
    ScheduleBlock.objects.create(channel=channel, playlist=playlist, start_time=time(0, 0))
    playout_rebuild(channel=channel, horizon=HORIZON)
    # Played by the periodic step (no one asked): its jobs have no owner.
    player = channel_start(actor=None, channel=channel)
    job = StreamJob.objects.get(pk=player.job_id)
    threads = [start_supervised(job)]
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    try:
        wait_until(lambda: collector.segments, timeout=30)
        turned_on = _toggle(operator_api, channel, True).json()
        assert turned_on["applies"] == "restarted" and turned_on["job"] == job.pk
        relay = StreamJob.objects.get(pk=turned_on["recording_job"])
        threads.append(start_supervised(relay))
        relay_run = wait_until(lambda: (r := run_row(relay)).recording and r.pid and r, 30)
        recording_from = timezone.now()
        joins_before = len([s for s in collector.segments if s.discontinuity])

        # A schedule change inside the playing window: green, next, becomes yellow.
        def red_airing() -> Any:
            now = playout_at(channel)
            return now if now and _colour(now.row) == "red" and now.remaining > 2.5 else None

        airing = wait_until(red_airing, timeout=30, interval=0.05)
        green = PlaylistItem.objects.get(playlist=playlist, media_item=items["green"])
        playlist_item_remove(actor=None, item=green)
        playlist_item_add(actor=None, playlist=playlist, kind=ItemKind.MEDIA,
                          media_item=items["yellow"], position=1)  # fmt: skip
        playout_rebuild(channel=channel, horizon=HORIZON)
        following = PlayoutRow.objects.get(channel=channel, start=airing.row.end)
        assert _colour(following) == "yellow"
        lead = timedelta(seconds=conf.START_LEAD_SECONDS)
        assert StreamJob.objects.get(pk=job.pk).respawn_at == following.start - lead

        # Two window ends or more after it: the channel's ffmpeg replaced three times or more.
        def replaced() -> bool:
            joins = len([s for s in collector.segments if s.discontinuity]) - joins_before
            return joins >= 3 and timezone.now() > following.end + timedelta(seconds=2)

        wait_until(replaced, timeout=60)
        turned_off = _toggle(operator_api, channel, False).json()
        recording_to = timezone.now()
        assert turned_off["applies"] == "restarted"  # the relay had only the recording: it stops
        threads[1].join(20)
        assert threads[1].result == ExitReason.STOPPED
        assert run_row(job).state == RunState.RUNNING  # the channel plays on
    finally:
        channel_stop(actor=None, channel=channel)
        for thread in threads:
            thread.join(20)
        collector.stop()
    assert run_row(relay).pk == relay_run.pk  # one run of the relay, one ffmpeg in it

    found = _recordings(operator_api, channel)
    assert len(found) == 1, found
    shown = found[0]
    assert shown["kind"] == "video" and shown["status"] == "available"
    assert shown["owner"] == operator_user.pk and shown["stream_job_id"] == relay.pk
    linked = operator_api.get(f"/api/v1/channels?job={shown['stream_job_id']}").json()
    assert [c["id"] for c in linked["items"]] == [channel.pk]

    # Its length is the span recorded, within a segment or two (the relay starts with the
    # newest segment; the last one is cut where the relay stopped).
    path = _file(shown["id"], settings)
    duration = float(probe(path, "format=duration")["format"]["duration"])
    span = (recording_to - recording_from).total_seconds()
    assert abs(duration - span) <= 2 * conf.SEGMENT_SECONDS, (duration, span)
    # Timestamps increase throughout, with no hole longer than a segment: one stream.
    for stream in ("v:0", "a:0"):
        times = [
            float(p["dts_time"])
            for p in probe(path, "packet=dts_time", "-select_streams", stream)["packets"]
            if p.get("dts_time") not in (None, "N/A")
        ]
        steps = [b - a for a, b in pairwise(times)]
        assert min(steps) > 0 and max(steps) < conf.SEGMENT_SECONDS, stream
    # What it aired, the schedule change included.
    aired = colours_of(path, 0.5)
    assert "yellow" in aired and len(set(aired)) >= 3, aired

    published = operator_api.post(
        "/api/v1/replay",
        {"recording": shown["id"], "title": "Colours, recorded", "visibility": "public"},
        format="json",
    )
    assert published.status_code == 201, published.content
    replay = published.json()
    assert replay["published"] is True and replay["duration"] == pytest.approx(duration, abs=0.5)
    assert operator_api.get(replay["page_url"]).status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_channel_started_again_records_nothing_of_what_aired_before_its_stop(
    operator_api: APIClient, tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    items = colour_library(tmp_path / "clips", {"red": 30.0, "blue": 30.0})
    channel = playing_channel()
    assert _toggle(operator_api, channel, True).json()["applies"] == "next_start"

    def session(colour: str) -> None:
        PlayoutRow.objects.filter(channel=channel).delete()
        air(channel, timezone.now() - timedelta(seconds=1), [(items[colour], 25.0)])
        player = channel_start(actor=None, channel=channel)
        assert player.relay_job is not None
        jobs = [StreamJob.objects.get(pk=pk) for pk in (player.job_id, player.relay_job.pk)]
        threads = [start_supervised(job) for job in jobs]
        try:
            wait_until(lambda: (run_row(jobs[1]).last_stats.get("out_time_s") or 0) >= 4, 40)
        finally:
            channel_stop(actor=None, channel=channel)
            for thread in threads:
                thread.join(20)

    session("red")
    # Started again at once: the playlist still ends with red, the stopped session's.
    session("blue")
    found = sorted(_recordings(operator_api, channel), key=lambda r: r["id"])
    assert len(found) == 2, found
    assert set(colours_of(_file(found[0]["id"], settings), 0.25)) == {"red"}
    assert set(colours_of(_file(found[1]["id"], settings), 0.25)) == {"blue"}
