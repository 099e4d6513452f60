"""The tuner's stream, `/channels/{slug}/stream.ts`, through the production web server:
ffprobe tunes an on-demand channel as Plex's DVR does (the lineup's URL, plain HTTP),
the channel starts on it, the picture is H.264 and AAC with timestamps that go on
across segments, and the server's stream ends when the client goes away."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.channels.models import ChannelMode
from apps.channels.play import conf, live
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import channel_start, channel_stop, channels_keep_playing
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.channels.tests.served import castcore_server
from apps.channels.tests.test_channel_on_demand import supervise_when_started
from apps.streams.models import JobState, StreamJob
from apps.streams.tests.helpers import start_supervised, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Seconds of picture ffprobe reads: past the two segments sent at once, so at least
#: one more segment arrives live, and several segment boundaries are crossed.
READ_SECONDS = 3 * conf.SEGMENT_SECONDS + 1
TS = 188


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
            assert "nothing new" not in server.log()  # ended by the client, not by a stall
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


def _pid(data: bytes, offset: int) -> int:
    return ((data[offset + 1] & 0x1F) << 8) | data[offset + 2]


def _flags(data: bytes, offset: int) -> int:
    """The adaptation field's flags of the TS packet at `offset` (0: none)."""
    has_field = (data[offset + 3] >> 4) & 0x2
    return data[offset + 5] if has_field and data[offset + 4] else 0


class JoinReader:
    """Reads a stream until two keyframes came after a packet flagged as a discontinuity."""

    def __init__(self) -> None:
        self.captured = bytearray()
        self.join: int | None = None  # where the discontinuity indicator is
        self.pid = -1  # the PID it is on: the PCR's, the video
        self.keyframes: list[int] = []

    def read(self, response: Any) -> bool:
        start = len(self.captured) - len(self.captured) % TS
        self.captured.extend(response.read1(64 * 1024))
        for offset in range(start, len(self.captured) - TS + 1, TS):
            flags = _flags(self.captured, offset)
            if self.join is None and flags & 0x80:
                self.join, self.pid = offset, _pid(self.captured, offset)
            elif self.join is not None and flags & 0x40 and _pid(self.captured, offset) == self.pid:
                self.keyframes.append(offset)  # random access on the video: a keyframe
        return len(self.keyframes) >= 2


def test_the_stream_goes_on_across_the_channels_next_ffmpeg(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    # Each ffmpeg plays 10 s of the schedule, then the job's loop starts the next one,
    # which continues the playlist after an EXT-X-DISCONTINUITY (timestamps start again).
    monkeypatch.setattr(conf, "WINDOW_SECONDS", 10)
    items = colour_library(tmp_path / "clips", {"red": 60.0})
    channel = playing_channel()
    # Short rows: a window holds two or three of them, so an ffmpeg ends within seconds.
    air(channel, timezone.now() - timedelta(seconds=1), [(items["red"], 6.0)] * 10)
    player = channel_start(actor=None, channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    reader = JoinReader()
    try:
        wait_until(lambda: live.live_playlist(channel.pk), timeout=60)
        with castcore_server(tmp_path) as server:
            url = f"{server.url}{channel.mpegts_path()}"
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
                assert response.headers["Content-Type"] == "video/mp2t"
                # Read as a client does until two keyframes of the next ffmpeg came through.
                wait_until(lambda: reader.read(response), timeout=120, interval=0)
            sent = wait_until(lambda: _closed_after(server.log(), channel.pk), timeout=30)
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
    captured, join = reader.captured, reader.join
    assert join is not None and sent >= 1
    assert all(captured[o] == 0x47 for o in range(0, len(captured) - TS + 1, TS))
    # What came after the join is a stream of its own a demuxer reads: H.264 and AAC.
    tail = tmp_path / "after-join.ts"
    tail.write_bytes(bytes(captured[join - join % TS :]))
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:packet=stream_index",
         "-of", "json", str(tail)],
        capture_output=True, check=True, text=True, timeout=60,
    )  # fmt: skip
    probed = json.loads(result.stdout)
    assert {s["codec_name"] for s in probed["streams"]} == {"h264", "aac"}
    assert len(probed["packets"]) > 25


class StreamReader(threading.Thread):
    """A tuner client on a thread: it reads the stream until told to hang up."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.received = 0
        self.hang_up = threading.Event()

    def run(self) -> None:
        with urllib.request.urlopen(self.url, timeout=120) as response:  # noqa: S310
            while not self.hang_up.is_set() and (chunk := response.read1(64 * 1024)):
                self.received += len(chunk)


def _keep_playing() -> dict[str, int] | None:
    """The periodic step, as beat sends it (None: SQLite was busy with another writer)."""
    try:
        return channels_keep_playing()
    except OperationalError:
        return None


def test_a_reader_of_the_stream_keeps_an_on_demand_channel_from_idling_out(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    idle = 8
    monkeypatch.setattr(conf, "IDLE_SECONDS", idle)
    items = colour_library(tmp_path / "clips", {"red": 120.0})
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    air(channel, timezone.now() - timedelta(seconds=5), [(items["red"], 118.0)])
    environ = {
        "CASTCORE_CHANNEL_START_WAIT_SECONDS": "90",
        "CASTCORE_CHANNEL_IDLE_SECONDS": str(idle),
    }
    with castcore_server(tmp_path, **environ) as server:
        reader = StreamReader(f"{server.url}{channel.mpegts_path()}")
        reader.start()
        thread, _ = supervise_when_started(channel)
        try:
            wait_until(lambda: reader.received > 0, timeout=120)
            # Three idle times of periodic steps: the reader alone keeps it on the air.
            deadline = time.monotonic() + 3 * idle
            while time.monotonic() < deadline:
                done = _keep_playing()
                assert done is None or done["stopped"] == 0
                time.sleep(1)
            player = ChannelPlayer.objects.select_related("job").get(channel=channel)
            assert player.wanted and player.job.state == JobState.RUNNING
            before = reader.received
            wait_until(lambda: reader.received > before, timeout=30)  # still streaming
            # The client hangs up: an idle time later, the channel stops.
            reader.hang_up.set()
            reader.join(30)
            wait_until(lambda: (_keep_playing() or {}).get("stopped") == 1, timeout=60, interval=1)
            assert not ChannelPlayer.objects.get(channel=channel).wanted
        finally:
            reader.hang_up.set()
            channel_stop(actor=None, channel=channel)
            thread.join(20)
