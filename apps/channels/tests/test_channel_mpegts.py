"""The tuner's stream, `/channels/{slug}/stream.ts`, through the production web server:
ffprobe tunes an on-demand channel as Plex's DVR does (the lineup's URL, plain HTTP),
the channel starts on it, the picture is H.264 and AAC with timestamps that go on
across segments, and the server's stream ends when the client goes away."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import ChannelMode
from apps.channels.play import conf
from apps.channels.play.services import channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.channels.tests.served import castcore_server
from apps.channels.tests.test_channel_on_demand import supervise_when_started
from apps.streams.tests.helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Seconds of picture ffprobe reads: past the two segments sent at once, so at least
#: one more segment arrives live, and several segment boundaries are crossed.
READ_SECONDS = 3 * conf.SEGMENT_SECONDS + 1


def _closed_after(log: str, channel_id: int) -> int | None:
    found = re.search(rf"channel {channel_id}: MPEG-TS stream closed after (\d+) segments", log)
    return int(found.group(1)) if found else None


def test_ffprobe_tunes_an_on_demand_channel_from_the_lineup(tmp_path: Path, settings: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"red": 90.0})
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    air(channel, timezone.now() - timedelta(seconds=5), [(items["red"], 88.0)])
    # A loaded machine may take a while to start ffmpeg: the point is the stream, not a 503.
    with castcore_server(tmp_path, CASTCORE_CHANNEL_START_WAIT_SECONDS="90") as server:
        with urllib.request.urlopen(f"{server.url}/lineup.json", timeout=20) as response:  # noqa: S310
            url = json.load(response)[0]["URL"]
        assert url == f"{server.url}/channels/{channel.slug}/stream.ts"
        probe = subprocess.Popen(
            ["ffprobe", "-v", "error", "-read_intervals", f"%+{READ_SECONDS}",
             "-show_entries", "stream=index,codec_type,codec_name:packet=stream_index,dts_time",
             "-of", "json", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        # Nothing plays until this first viewer: its request started the channel.
        thread, _ = supervise_when_started(channel)
        try:
            out, err = probe.communicate(timeout=180)
            assert probe.returncode == 0, err.decode(errors="replace")
            # ffprobe read what it wanted and hung up: the server's stream ends with it.
            sent = wait_until(lambda: _closed_after(server.log(), channel.pk), timeout=30)
        finally:
            channel_stop(actor=None, channel=channel)
            thread.join(20)
    result = json.loads(out)
    codecs = {s["codec_type"]: s["codec_name"] for s in result["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    index = {s["codec_type"]: s["index"] for s in result["streams"]}
    for kind in ("video", "audio"):
        times = [
            float(p["dts_time"])
            for p in result["packets"]
            if p["stream_index"] == index[kind] and p.get("dts_time") not in (None, "N/A")
        ]
        assert all(b > a for a, b in itertools.pairwise(times)), kind
        # Longer than a segment: the timestamps go on across segment boundaries.
        assert times[-1] - times[0] > 2 * conf.SEGMENT_SECONDS, kind
    assert sent >= 3  # the two at once, and at least one that came live
