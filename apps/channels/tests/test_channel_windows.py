"""A channel whose window is short plays on across window ends: each ffmpeg ends at an item
boundary, the HLS timestamps keep increasing with no hole longer than a segment, and the
restream receiver (a real nginx-rtmp on loopback) sees one publish throughout."""

from __future__ import annotations

import signal
import subprocess
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import ChannelOutput
from apps.channels.play import conf
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import (
    SegmentCollector,
    air,
    colour_changes,
    colour_library,
    colours_of,
    packet_times,
    playing_channel,
    probe,
)
from apps.streams.models import StreamJob, StreamRun
from apps.streams.tests.helpers import start_supervised, wait_until
from workers.ffmpeg.tests.rtmp_server import RtmpServer, rtmp_server_fixture  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

KEY = "goodkey"
ITEM_SECONDS = 5.0
WINDOW_SECONDS = 10  # the setting's least: each ffmpeg gets two or three items
CYCLE = ("red", "green", "blue", "yellow", "red", "green", "blue")


def test_a_channel_plays_on_across_window_ends_and_its_restream_stays_connected(
    rtmp_server: RtmpServer, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setattr(conf, "WINDOW_SECONDS", WINDOW_SECONDS)
    items = colour_library(tmp_path / "clips", dict.fromkeys(set(CYCLE), 6.0))
    channel = playing_channel()
    ChannelOutput.objects.create(channel=channel, kind="rtmp", url=rtmp_server.app_url,
                                 stream_key=KEY)  # fmt: skip
    t0 = timezone.now() - timedelta(seconds=1)
    rows = air(channel, t0, [(items[c], ITEM_SECONDS) for c in CYCLE])
    player = channel_start(actor=None, channel=channel)
    assert player.relay_job is not None
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    relay_id = player.relay_job.pk
    jobs = (player.job_id, relay_id)
    threads = [start_supervised(StreamJob.objects.get(pk=pk)) for pk in jobs]
    received = tmp_path / "received.ts"
    receiver: subprocess.Popen[bytes] | None = None
    try:
        relay_run = wait_until(
            lambda: StreamRun.objects.filter(job_id=relay_id, state="running").first(),
            timeout=30,
        )
        wait_until(lambda: relay_run.refresh_from_db() or relay_run.last_stats.get("frames"), 30)
        receiver = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-rw_timeout", "15000000",
             "-i", rtmp_server.publish_url(KEY), "-c", "copy", "-f", "mpegts", str(received)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        end = rows[-1].start + timedelta(seconds=2.5)  # into the last item
        wait_until(lambda: timezone.now() >= end, timeout=60)
        assert receiver.poll() is None, "the receiver lost the stream"
        window_end = ChannelPlayer.objects.get(pk=player.pk).window_end
    finally:
        channel_stop(actor=None, channel=channel)
        for thread in threads:
            thread.join(20)
        if receiver is not None:
            receiver.send_signal(signal.SIGINT)  # what it wrote stays readable either way
            try:
                receiver.wait(5)
            except subprocess.TimeoutExpired:
                receiver.kill()
                receiver.wait(5)
    segments = collector.stop()

    # Two window ends or more (each a new ffmpeg, after a discontinuity), each at an item
    # boundary: the picture changes colour right there.
    joins = [i for i, segment in enumerate(segments) if segment.discontinuity and i > 0]
    assert len(joins) >= 2, [s.discontinuity for s in segments]
    for i in joins:
        before, after = colours_of(segments[i - 1].path, 0.2), colours_of(segments[i].path, 0.2)
        assert before[-1] != after[0], (i, before, after)
    assert window_end in {row.end for row in rows}

    # HLS: timestamps keep increasing, with no hole longer than a segment, video and audio.
    for stream in ("v:0", "a:0"):
        steps = [b - a for a, b in pairwise(packet_times(segments, stream))]
        assert min(steps) > 0 and max(steps) < conf.SEGMENT_SECONDS, stream

    # Every item on the air within 2 s of its row's start, in order: three boundaries or more.
    changes = colour_changes(segments)
    aired = [colour for colour, _ in changes]
    assert aired == list(CYCLE[: len(aired)]) and len(aired) >= 4, changes
    for (colour, at), row in zip(changes[1:], rows[1:], strict=False):
        assert abs((at - row.start).total_seconds()) < 2.0, (colour, at, row.start)

    # The restream: one publish, received as one stream across the window ends.
    assert rtmp_server.publish_attempts == [KEY]
    times = [
        float(p["pts_time"])
        for p in probe(received, "packet=pts_time", "-select_streams", "v:0")["packets"]
    ]
    steps = [b - a for a, b in pairwise(times)]
    assert times[-1] - times[0] > 2 * WINDOW_SECONDS - 5, (times[0], times[-1])
    assert min(steps) > 0 and max(steps) < conf.SEGMENT_SECONDS
