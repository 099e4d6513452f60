"""A channel plays its playout rows as continuous HLS, with real ffmpeg on real clips."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play import conf
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import (
    SegmentCollector,
    air,
    colour_changes,
    colour_library,
    packet_times,
    playing_channel,
)
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEM_SECONDS = 5.0


def test_a_channel_plays_across_three_item_boundaries_on_schedule(
    tmp_path: Path, settings: object
) -> None:
    settings.VAR_DIR = tmp_path / "var"  # type: ignore[attr-defined]
    colours = ("red", "green", "blue", "yellow")
    items = colour_library(tmp_path / "clips", dict.fromkeys(colours, 6.0))
    channel = playing_channel()
    # The first row began a second ago: the channel joins it one second in.
    t0 = timezone.now() - timedelta(seconds=1)
    rows = air(channel, t0, [(items[c], ITEM_SECONDS) for c in colours])
    player = channel_start(actor=None, channel=channel)
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    end = rows[-1].start + timedelta(seconds=2.5)  # into the fourth item
    wait_until(lambda: timezone.now() >= end, timeout=40)
    channel_stop(actor=None, channel=channel)
    thread.join(20)
    segments = collector.stop()
    assert len(segments) >= 5

    # Timestamps keep increasing, with no hole longer than a segment, video and audio.
    for stream in ("v:0", "a:0"):
        times = packet_times(segments, stream)
        steps = [b - a for a, b in pairwise(times)]
        assert min(steps) > 0, stream
        assert max(steps) < conf.SEGMENT_SECONDS, stream

    # Each item came on the air within 2 s of its row's start, in order, with no black.
    changes = colour_changes(segments)
    assert [colour for colour, _ in changes] == ["red", "green", "blue", "yellow"], changes
    for (colour, aired), row in zip(changes[1:], rows[1:], strict=True):
        assert abs((aired - row.start).total_seconds()) < 2.0, (colour, aired, row.start)


def test_a_row_with_nothing_to_play_airs_black_without_a_stall(
    tmp_path: Path, settings: object
) -> None:
    settings.VAR_DIR = tmp_path / "var"  # type: ignore[attr-defined]
    items = colour_library(tmp_path / "clips", {"red": 6.0, "blue": 6.0})
    channel = playing_channel()
    t0 = timezone.now() - timedelta(seconds=1)
    rows = air(channel, t0, [(items["red"], ITEM_SECONDS)])
    gap_end = rows[0].end + timedelta(seconds=4)
    PlayoutRow.objects.create(channel=channel, start=rows[0].end, end=gap_end, filler=True)
    rows += air(channel, gap_end, [(items["blue"], ITEM_SECONDS)])
    player = channel_start(actor=None, channel=channel)
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    end = rows[-1].start + timedelta(seconds=2.5)
    wait_until(lambda: timezone.now() >= end, timeout=40)
    channel_stop(actor=None, channel=channel)
    thread.join(20)
    segments = collector.stop()
    times = packet_times(segments, "v:0")
    steps = [b - a for a, b in pairwise(times)]
    assert min(steps) > 0 and max(steps) < conf.SEGMENT_SECONDS
    changes = colour_changes(segments)
    assert [colour for colour, _ in changes] == ["red", "black", "blue"], changes
    for (_, aired), start in zip(changes[1:], (rows[0].end, gap_end), strict=True):
        assert abs((aired - start).total_seconds()) < 2.0
