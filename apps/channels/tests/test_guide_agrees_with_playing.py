"""The item on the air is the one the served guide lists, within 2 s: a real schedule
(a fixed-time block and a flood) compiled by the real compiler, played by the real
engine, the airing item told by the colour of the HLS output's frames, the guide read
from `/epg.xml` with lxml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from lxml import etree

from apps.channels.models import BlockMode, Playlist, PlaylistItem, ScheduleBlock
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.play_helpers import (
    Segment,
    SegmentCollector,
    colour_library,
    colours_of,
    playing_channel,
)
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: Half-hour offset, far from UTC: a guide that mixed up zones would be hours off.
ZONE = ZoneInfo("Asia/Kolkata")
TOLERANCE = 2.0
STEP = 0.2  # seconds between the frames sampled from the output


@dataclass(frozen=True)
class Programme:
    title: str
    start: datetime
    stop: datetime


def served_guide(client: Client, guide_id: str) -> list[Programme]:
    """The channel's programmes in `/epg.xml`, as an IPTV client reads them."""
    response = client.get("/epg.xml")
    assert response.status_code == 200
    root = etree.fromstring(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    found = [
        Programme(
            title=node.findtext("title"),
            start=datetime.strptime(node.get("start"), "%Y%m%d%H%M%S %z"),
            stop=datetime.strptime(node.get("stop"), "%Y%m%d%H%M%S %z"),
        )
        for node in root.iterfind("programme")
        if node.get("channel") == guide_id
    ]
    return sorted(found, key=lambda p: p.start)


def listed_around(guide: list[Programme], at: datetime) -> set[str]:
    """Titles the guide has on the air at some instant within TOLERANCE of `at`."""
    early, late = at - timedelta(seconds=TOLERANCE), at + timedelta(seconds=TOLERANCE)
    return {p.title for p in guide if p.start < late and p.stop > early}


def aired(segments: list[Segment]) -> list[tuple[str, datetime]]:
    """(colour, wall-clock time it aired) of a frame every STEP seconds of the output.

    A segment appears once complete; its content ran in real time over the `duration`
    before that (the engine plays with -re), as play_helpers.colour_changes reads it.
    """
    samples = []
    for segment in segments:
        for index, colour in enumerate(colours_of(segment.path, STEP)):
            at = segment.seen_at - timedelta(seconds=segment.duration - index * STEP)
            samples.append((colour, at))
    return samples


def test_the_item_on_the_air_is_the_one_the_guide_lists_across_item_boundaries(
    tmp_path: Path, settings: object, client: Client
) -> None:
    settings.VAR_DIR = tmp_path / "var"  # type: ignore[attr-defined]
    # Clips as long as real media is: not whole seconds (yellow's AAC ends at 3.32 s),
    # so rows start between the guide's whole seconds.
    items = colour_library(
        tmp_path / "clips", {"blue": 4.6, "yellow": 3.3, "red": 4.0, "green": 4.0}
    )
    blue, yellow = (timedelta(seconds=items[c].duration or 0.0) for c in ("blue", "yellow"))
    assert blue.microseconds and yellow.microseconds
    channel = playing_channel(time_zone=str(ZONE))
    flood = Playlist.objects.create(name="Flood")
    fixed = Playlist.objects.create(name="Fixed")
    for position, colour in enumerate(("blue", "yellow")):
        PlaylistItem.objects.create(
            playlist=flood, position=position, kind="media", media_item=items[colour]
        )
    for position, colour in enumerate(("red", "green")):
        PlaylistItem.objects.create(
            playlist=fixed, position=position, kind="media", media_item=items[colour]
        )
    now = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    fixed_at = now + timedelta(seconds=10)
    flood_at = fixed_at + timedelta(seconds=8)
    # Local wall times of the channel's zone, daily: the fixed block airs 8 s of red and
    # green at fixed_at; the flood runs from flood_at until the next day's fixed block,
    # so "now" is inside yesterday's flood: blue, yellow, then filler up to fixed_at.
    ScheduleBlock.objects.create(
        channel=channel, playlist=fixed, mode=BlockMode.DURATION, duration=8,
        start_time=fixed_at.astimezone(ZONE).time(),
    )  # fmt: skip
    ScheduleBlock.objects.create(
        channel=channel, playlist=flood, mode=BlockMode.FLOOD,
        start_time=flood_at.astimezone(ZONE).time(),
    )  # fmt: skip
    playout_rebuild(channel=channel, now=now, horizon=timedelta(minutes=10))

    guide = served_guide(client, channel.guide_id)
    # The guide says what the schedule says (XMLTV times are whole seconds: a programme
    # starts at its row's second): the compile is checked here, the engine below.
    expected = [
        ("blue", now), ("yellow", now + blue), ("red", fixed_at),
        ("green", fixed_at + timedelta(seconds=4)), ("blue", flood_at),
        ("yellow", flood_at + blue),
    ]  # fmt: skip
    assert [(p.title, p.start) for p in guide[:6]] == [
        (title, at.replace(microsecond=0)) for title, at in expected
    ]
    assert guide[1].stop == fixed_at, "the filler before the fixed block folds into yellow"
    assert all(p.start.utcoffset() == timedelta(hours=5, minutes=30) for p in guide)

    player = channel_start(actor=None, channel=channel)
    collector = SegmentCollector(hls_dir(channel.pk), tmp_path / "kept")
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    end = flood_at + blue + timedelta(seconds=2)  # into the second yellow
    wait_until(lambda: timezone.now() >= end, timeout=60)
    channel_stop(actor=None, channel=channel)
    thread.join(20)
    segments = collector.stop()

    samples = aired(segments)
    # Every frame of an item aired while the guide listed that item (within 2 s).
    disagreements = [
        (colour, at.astimezone(ZONE).isoformat(), sorted(listed_around(guide, at)))
        for colour, at in samples
        if colour != "black" and colour not in listed_around(guide, at)
    ]
    assert not disagreements, disagreements
    # And each item that came on after another did so within 2 s of its guide start.
    boundaries = 0
    for (before, _), (colour, at) in pairwise(samples):
        if colour == before or colour == "black":
            continue
        nearest = min(
            (p for p in guide if p.title == colour),
            key=lambda p: abs((p.start - at).total_seconds()),
        )
        assert abs((nearest.start - at).total_seconds()) < TOLERANCE, (colour, at, nearest)
        boundaries += 1
    # yellow, (black), red, green, blue, yellow: five items came on after another.
    assert boundaries >= 4, [(c, a.isoformat()) for c, a in samples]
