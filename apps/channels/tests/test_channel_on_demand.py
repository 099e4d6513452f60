"""An on-demand channel starts on its first viewer's playlist request, joins its schedule
where the clock is, and serves that viewer once its first segments exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.channels.models import ChannelMode
from apps.channels.play import conf
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.streams.models import StreamJob
from apps.streams.runtime.workdir import run_workdir
from apps.streams.tests.helpers import start_supervised, wait_until
from workers.ffmpeg.argv import PLAYLIST_FILE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_first_viewer_starts_an_on_demand_channel_on_schedule(
    tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"red": 40.0})
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    # On the air for 20 s already: a first viewer now joins 20 s in, not at the top.
    t0 = timezone.now() - timedelta(seconds=20)
    air(channel, t0, [(items["red"], 38.0)])
    client = Client()
    assert client.get("/channels/colours/index.m3u8").status_code == 503
    player = ChannelPlayer.objects.get(channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    try:
        playlist = wait_until(
            lambda: (r := client.get("/channels/colours/index.m3u8")).status_code == 200 and r,
            timeout=40,
        )
        assert "#EXTINF" in playlist.content.decode()
        listing = run_workdir(player.job_id, 1) / PLAYLIST_FILE
        inpoint = float(re.search(r"^inpoint ([0-9.]+)$", listing.read_text(), re.M).group(1))  # type: ignore[union-attr]
        written = datetime.fromtimestamp(listing.stat().st_mtime, tz=UTC)
        latest = (written - t0).total_seconds() + conf.START_LEAD_SECONDS
        assert 0 <= latest - inpoint < 1.5 and inpoint > 19
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
