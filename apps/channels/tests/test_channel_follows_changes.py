"""A schedule change inside the window the channel's ffmpeg plays reaches the picture at
the first changed row, not when the window ends: real ffmpeg on real clips."""

from __future__ import annotations

from datetime import time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import ItemKind, Playlist, PlaylistItem, PlayoutRow, ScheduleBlock
from apps.channels.play import conf
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.selectors import playout_at
from apps.channels.services.playlists import playlist_item_add, playlist_item_remove
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.play_helpers import (
    SegmentCollector,
    colour_changes,
    colour_library,
    packet_times,
    playing_channel,
)
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HORIZON = timedelta(minutes=10)  # a week of 6-second rows is not what this test is about


def _colour(row: PlayoutRow) -> str:
    assert row.media_item is not None
    return row.media_item.relpath.removesuffix(".mp4")


def test_a_change_to_the_next_item_airs_at_its_guide_time(tmp_path: Path, settings: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", dict.fromkeys(("red", "green", "blue", "yellow"), 6))
    channel = playing_channel()
    playlist = Playlist.objects.create(name="Colours")
    for position, colour in enumerate(("red", "green", "blue")):
        PlaylistItem.objects.create(
            playlist=playlist, position=position, kind=ItemKind.MEDIA, media_item=items[colour]
        )
    ScheduleBlock.objects.create(channel=channel, playlist=playlist, start_time=time(0, 0))
    playout_rebuild(channel=channel, horizon=HORIZON)
    # The window reaches far past this test: without a respawn, green would air.
    assert conf.WINDOW_SECONDS >= 600

    player = channel_start(actor=None, channel=channel)
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    wait_until(lambda: collector.segments, timeout=30)

    # Red on the air with time to spare: green, next, is replaced by yellow.
    def red_airing() -> Any:
        now = playout_at(channel)
        return now if now and _colour(now.row) == "red" and now.remaining > 2.5 else None

    airing = wait_until(red_airing, timeout=30, interval=0.05)
    green = PlaylistItem.objects.get(playlist=playlist, media_item=items["green"])
    playlist_item_remove(actor=None, item=green)
    playlist_item_add(
        actor=None, playlist=playlist, kind=ItemKind.MEDIA, media_item=items["yellow"], position=1
    )
    playout_rebuild(channel=channel, horizon=HORIZON)  # what the task the change sent runs

    # The running ffmpeg is to be replaced where the first changed row begins.
    rows = list(PlayoutRow.objects.filter(channel=channel).order_by("start"))
    following = next(row for row in rows if row.start == airing.row.end)
    assert _colour(following) == "yellow"
    lead = timedelta(seconds=conf.START_LEAD_SECONDS)  # the next ffmpeg's start-up
    assert StreamJob.objects.get(pk=player.job_id).respawn_at == following.start - lead

    end = following.end + timedelta(seconds=3)  # into blue, after yellow
    wait_until(lambda: timezone.now() >= end, timeout=40)
    channel_stop(actor=None, channel=channel)
    thread.join(20)
    segments = collector.stop()

    # The new ffmpeg answered the request (it asks for its own window's end, an hour on);
    # the picture agrees with the guide within 2 s.
    pending = StreamJob.objects.get(pk=player.job_id).respawn_at
    assert pending is None or pending > end
    # The changes after red's own start (which, under load, can reach the disk after the
    # edit): from halfway through red, the row the edit was made in.
    red_midway = airing.row.start + (airing.row.end - airing.row.start) / 2
    changes = [(c, at) for c, at in colour_changes(segments) if at > red_midway]
    assert [c for c, _ in changes] == ["yellow", "blue"], changes
    for (colour, aired), start in zip(changes, (following.start, following.end), strict=True):
        assert abs((aired - start).total_seconds()) < 2.0, (colour, aired, start)

    # Across the respawn, timestamps go on increasing, with no hole longer than a segment.
    for stream in ("v:0", "a:0"):
        steps = [b - a for a, b in pairwise(packet_times(segments, stream))]
        assert min(steps) > 0 and max(steps) < conf.SEGMENT_SECONDS, stream
    assert ChannelPlayer.objects.get(pk=player.pk).window_start is not None


def test_a_rebuild_that_changes_nothing_on_the_air_asks_for_no_respawn(
    tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"red": 6, "green": 6})
    channel = playing_channel()
    playlist = Playlist.objects.create(name="Colours")
    for position, colour in enumerate(("red", "green")):
        PlaylistItem.objects.create(
            playlist=playlist, position=position, kind=ItemKind.MEDIA, media_item=items[colour]
        )
    ScheduleBlock.objects.create(channel=channel, playlist=playlist, start_time=time(0, 0))
    playout_rebuild(channel=channel, horizon=HORIZON)
    player = channel_start(actor=None, channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    try:
        window_end = wait_until(
            lambda: ChannelPlayer.objects.get(pk=player.pk).window_end, timeout=30
        )
        # The window's own hand-over, its START_LEAD_SECONDS early, is all that is asked.
        lead = timedelta(seconds=conf.START_LEAD_SECONDS)
        asked = StreamJob.objects.get(pk=player.job_id).respawn_at
        assert asked == window_end - lead
        playout_rebuild(channel=channel, horizon=HORIZON)  # the same rows again
        assert StreamJob.objects.get(pk=player.job_id).respawn_at == asked
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
