"""What a viewer's request does to an on-demand channel that is not playing: it starts
it, unless the channel was stopped on purpose (then 503 at once) or cannot play (no
output profile: 503 at once, never a 500); a job still stopping after an idle stop is
started again once it has stopped. The first viewer is held until two segments exist."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.utils import timezone

from apps.channels import conf as channels_conf
from apps.channels.models import Channel, ChannelMode
from apps.channels.play import live
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import PLAYLIST, hls_dir
from apps.channels.play.services import channel_start, channel_stop, channels_keep_playing
from apps.channels.scheduling.models import ActionKind
from apps.channels.scheduling.services import scheduled_actions_run_due
from apps.channels.tests.factories import an_action
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.models import ExitReason, JobState, StreamJob, StreamRun
from apps.streams.runtime import lease

URL = "/channels/colours/index.m3u8"
TS_URL = "/channels/colours/stream.ts"
#: A hold that would make a test wait this long is one it must not take.
LONG_HOLD = 60.0


@pytest.fixture(autouse=True)
def var(tmp_path: Path, settings: Any) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    cache.clear()
    return tmp_path


def _job(channel: Channel) -> StreamJob:
    return StreamJob.objects.get(pk=ChannelPlayer.objects.get(channel=channel).job_id)


def _runs(channel: Channel) -> int:
    return StreamRun.objects.filter(job=_job(channel)).count()


def _not_playing(response: Any) -> bool:
    return bool(
        response.status_code == 503 and response.json()["error"]["code"] == "channel.not_playing"
    )


def _claimed(channel: Channel) -> StreamRun:
    """What a worker does with the start: it claims the run (its ffmpeg would start)."""
    run = StreamRun.objects.filter(job=_job(channel)).order_by("-number").first()
    assert run is not None
    claimed = lease.claim(run_id=run.pk, token=run.fencing_token, worker="test-worker")
    assert claimed is not None
    return claimed


def _idle_stopped_while_running(channel: Channel) -> StreamRun:
    """The channel played (a worker holds its run) and the idle rule stopped it: its job is
    stopping until the worker has stopped ffmpeg and let go."""
    channel_start(actor=None, channel=channel)
    run = _claimed(channel)
    channel_stop(actor=None, channel=channel)
    assert _job(channel).state == JobState.STOPPING
    cache.clear()  # the last viewer's note has expired, as it has after the idle time
    return run


def _worker_let_go(run: StreamRun) -> None:
    lease.release(
        run=run, exit_reason=ExitReason.STOPPED, job_state=JobState.STOPPED, job_fields={}
    )


def _segments(channel: Channel, count: int, *, first: int = 1) -> None:
    """A playlist with `count` fresh segments, as the channel's ffmpeg writes them."""
    folder = hls_dir(channel.pk)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:2",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for number in range(first, first + count):
        (folder / f"segment_{number:05d}.ts").write_bytes(b"\x47" + bytes(187))
        lines += ["#EXTINF:2.000000,", f"segment_{number:05d}.ts"]
    temporary = folder / "index.m3u8.tmp"
    temporary.write_text("\n".join(lines) + "\n")
    os.replace(temporary, folder / PLAYLIST)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [URL, TS_URL], ids=["hls", "mpegts"])
def test_a_channel_with_no_output_profile_is_a_503_not_a_500(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", LONG_HOLD)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND, output_profile=None)
    began = time.monotonic()
    response = Client().get(url)
    assert _not_playing(response)
    assert time.monotonic() - began < LONG_HOLD  # it can never start: not held
    assert not ChannelPlayer.objects.filter(channel=channel).exists()
    # Not noted as seen: once it has a profile, the next request starts it.
    assert cache.get(f"channels:viewer_seen:{channel.pk}") is None


@pytest.mark.django_db
def test_a_viewer_of_a_channel_whose_job_is_still_stopping_brings_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.5)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    run = _idle_stopped_while_running(channel)
    response = Client().get(URL)
    assert _not_playing(response)  # not a 500
    player = ChannelPlayer.objects.get(channel=channel)
    assert player.wanted and not player.held
    assert cache.get(f"channels:viewer_seen:{channel.pk}") is None
    # Still stopping: the periodic step cannot start it yet, and does not stop it either.
    assert channels_keep_playing() == {"started": 0, "stopped": 0, "deleted": 0}
    _worker_let_go(run)
    assert channels_keep_playing()["started"] == 1
    assert _job(channel).state == JobState.STARTING and _runs(channel) == 2


@pytest.mark.django_db(transaction=True)
def test_a_held_viewer_starts_the_channel_once_its_job_has_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", LONG_HOLD)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    run = _idle_stopped_while_running(channel)
    answer: dict[str, Any] = {}

    def view() -> None:
        try:
            answer["response"] = Client().get(URL)
        finally:
            connections.close_all()

    viewer = threading.Thread(target=view, daemon=True)
    viewer.start()
    wait_for(lambda: ChannelPlayer.objects.get(channel=channel).wanted)
    _worker_let_go(run)
    # The held request asks again: the job starts (no keep-playing pass in this test).
    wait_for(lambda: _runs(channel) == 2)
    assert _job(channel).state == JobState.STARTING
    _segments(channel, 2, first=40)  # the new ffmpeg's first segments
    viewer.join(LONG_HOLD)
    response = answer["response"]
    assert response.status_code == 200
    assert "segment_00040.ts" in response.content.decode()


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


@pytest.mark.django_db
def test_an_on_demand_channel_stopped_through_the_api_is_not_started_by_viewers(
    operator_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", LONG_HOLD)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    assert operator_api.post(f"/api/v1/channels/{channel.pk}/start").status_code == 200
    stopped = operator_api.post(f"/api/v1/channels/{channel.pk}/stop")
    assert stopped.status_code == 200 and stopped.json()["held"] is True
    cache.clear()
    for url in (URL, URL, TS_URL):  # noted, then noted lately (the cache): both at once
        began = time.monotonic()
        assert _not_playing(Client().get(url))
        assert time.monotonic() - began < LONG_HOLD
    assert _job(channel).state == JobState.STOPPED and _runs(channel) == 1
    assert not ChannelPlayer.objects.get(channel=channel).wanted
    assert channels_keep_playing()["started"] == 0
    # Started again through the API: viewers may bring it back after an idle stop.
    started = operator_api.post(f"/api/v1/channels/{channel.pk}/start")
    assert started.json()["held"] is False
    long_ago = timezone.now() - timedelta(hours=1)
    ChannelPlayer.objects.filter(channel=channel).update(last_viewer_at=long_ago)
    assert channels_keep_playing()["stopped"] == 1  # idle
    assert not ChannelPlayer.objects.get(channel=channel).held
    cache.clear()
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.3)
    assert _not_playing(Client().get(URL))  # no worker here: nothing comes within the hold
    assert _job(channel).state == JobState.STARTING and _runs(channel) == 3


@pytest.mark.django_db
def test_an_on_demand_channel_stopped_by_the_scheduler_is_not_started_by_viewers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", LONG_HOLD)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    at = datetime.now(UTC) - timedelta(seconds=1)
    an_action(kind=ActionKind.CHANNEL_START, replay=None, channel=channel, starts_at=at,
              next_run_at=at)  # fmt: skip
    scheduled_actions_run_due(now=at)
    stop_at = at + timedelta(seconds=1)
    an_action(kind=ActionKind.CHANNEL_STOP, replay=None, channel=channel, starts_at=stop_at,
              next_run_at=stop_at)  # fmt: skip
    scheduled_actions_run_due(now=stop_at)
    assert ChannelPlayer.objects.get(channel=channel).held
    began = time.monotonic()
    assert _not_playing(Client().get(URL))
    assert time.monotonic() - began < LONG_HOLD
    assert _job(channel).state == JobState.STOPPED and _runs(channel) == 1


@pytest.mark.django_db
def test_the_expected_503_is_not_logged_as_a_server_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.0)
    playing_channel(mode=ChannelMode.ON_DEMAND)  # starts, but nothing plays within the hold
    with caplog.at_level(logging.INFO):
        assert _not_playing(Client().get(URL))
    answered = [r for r in caplog.records if "not playing" in r.getMessage().lower()]
    assert answered and all(r.levelno <= logging.WARNING for r in answered)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_the_first_viewer_is_held_until_two_segments_exist(
    tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    channel = Channel(pk=77, slug="colours")
    _segments(channel, 1)
    waiting = asyncio.ensure_future(live.wait_until_live(channel.pk, seconds=LONG_HOLD, segments=2))
    await asyncio.sleep(4 * live.POLL_SECONDS)  # it has seen the lone segment
    assert not waiting.done()
    _segments(channel, 2)
    playlist = await waiting
    assert playlist is not None and len(playlist.segments) == 2
