"""An on-demand channel starts on its first viewer's playlist request, joins its schedule
where the clock is, and answers that viewer (held meanwhile) once its first segments
exist; after a stop, the playlist left on disk is not served as live."""

from __future__ import annotations

import re
import threading
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
from apps.channels.play import conf, live
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.streams.models import StreamJob, StreamRun
from apps.streams.runtime.workdir import run_workdir
from apps.streams.tests.helpers import RunThread, start_supervised, wait_until
from workers.ffmpeg.argv import PLAYLIST_FILE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


URL = "/channels/colours/index.m3u8"


class Viewer(threading.Thread):
    """A player's playlist request, on a thread: the server may hold it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.response: Any = None

    def run(self) -> None:
        try:
            self.response = Client().get(URL)
        finally:
            connections.close_all()


def supervise_when_started(channel: Channel, *, after_run: int = 0) -> tuple[RunThread, int]:
    """What a Celery worker does with the start a viewer's request made: run it."""

    def started() -> StreamRun | None:
        player = ChannelPlayer.objects.filter(channel=channel, wanted=True).first()
        if player is None:
            return None
        runs = StreamRun.objects.filter(job_id=player.job_id, number__gt=after_run)
        return runs.order_by("-number").first()

    run = wait_until(started, timeout=60)
    return start_supervised(StreamJob.objects.get(pk=run.job_id)), run.number


def sequences(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^segment_([0-9]+)\.ts$", text, re.M)]


def test_the_first_viewer_is_held_until_the_channel_plays_on_schedule(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    # Long enough for ffmpeg to start on a loaded machine: the point is a 200, not a 503.
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 90.0)
    items = colour_library(tmp_path / "clips", {"red": 90.0})
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    # On the air for 20 s already: a first viewer now joins 20 s in, not at the top.
    t0 = timezone.now() - timedelta(seconds=20)
    air(channel, t0, [(items["red"], 88.0)])
    viewer = Viewer()
    viewer.start()
    thread, first_run = supervise_when_started(channel)
    try:
        viewer.join(120)
        assert viewer.response is not None and viewer.response.status_code == 200
        first = viewer.response.content.decode()
        assert "#EXTINF" in first
        player = ChannelPlayer.objects.get(channel=channel)
        listing = run_workdir(player.job_id, first_run) / PLAYLIST_FILE
        inpoint = float(re.search(r"^inpoint ([0-9.]+)$", listing.read_text(), re.M).group(1))  # type: ignore[union-attr]
        written = datetime.fromtimestamp(listing.stat().st_mtime, tz=UTC)
        latest = (written - t0).total_seconds() + conf.START_LEAD_SECONDS
        assert 0 <= latest - inpoint < 1.5 and inpoint > 19
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)

    # Stopped (as the idle rule does): the playlist stays on disk, listing old segments.
    folder = hls_dir(channel.pk)
    assert sequences((folder / "index.m3u8").read_text())
    stopped_at = (folder / live.STOP_MARKER).stat().st_mtime
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.5)
    cache.clear()  # the last viewer's note has expired, as it has after the idle time
    stale = Client().get(URL)  # starts it again, but nothing is live within the bound
    assert stale.status_code == 503 and stale["Retry-After"] == "2"

    thread, _ = supervise_when_started(channel, after_run=first_run)
    try:
        again = wait_until(lambda: (r := Client().get(URL)).status_code == 200 and r, timeout=60)
        served = sequences(again.content.decode())
        # Only the new run's segments, numbered on from the old ones.
        assert served and min(served) > max(sequences(first))
        for number in served:
            assert (folder / f"segment_{number:05d}.ts").stat().st_mtime > stopped_at
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
