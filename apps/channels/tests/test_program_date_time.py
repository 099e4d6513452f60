"""A channel's served playlist dates each segment (EXT-X-PROGRAM-DATE-TIME), and the date
of an item's first frame is within 2 s of the item's guide start: a player at any
distance behind the live edge can tell what the guide lists for the frame it shows."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.play.live import live_playlist, parse_playlist
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import air, colour_library, colours_of, playing_channel
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TAG = "#EXT-X-PROGRAM-DATE-TIME:"
TOLERANCE = 2.0
STEP = 0.2
CYCLE = ("red", "green", "blue", "yellow", "red")
ITEM_SECONDS = 4.0


def _served_dates(channel_id: int) -> dict[str, datetime]:
    """Segment name → its EXT-X-PROGRAM-DATE-TIME in the playlist as served now."""
    served = live_playlist(channel_id)
    if served is None:
        return {}
    dates = {}
    for segment in parse_playlist(served.text())[1]:
        for tag in segment.tags:
            if tag.startswith(TAG):
                dates[segment.name] = datetime.strptime(
                    tag.removeprefix(TAG), "%Y-%m-%dT%H:%M:%S.%f%z"
                )
    return dates


def test_the_date_of_an_items_first_frame_is_its_guide_start(tmp_path: Path, settings: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", dict.fromkeys(set(CYCLE), 5.0))
    channel = playing_channel()
    t0 = timezone.now() - timedelta(seconds=1)
    rows = air(channel, t0, [(items[c], ITEM_SECONDS) for c in CYCLE])
    player = channel_start(actor=None, channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    folder, kept = hls_dir(channel.pk), tmp_path / "kept"
    kept.mkdir()
    dates: dict[str, datetime] = {}
    try:
        # What a player reads: the served playlist, polled as players poll it; each
        # segment kept while it is listed (hlsenc deletes the old ones).
        while timezone.now() < rows[-1].start + timedelta(seconds=2):
            for name, date in _served_dates(channel.pk).items():
                if name not in dates and (folder / name).exists():
                    (kept / name).write_bytes((folder / name).read_bytes())
                    dates[name] = date
            time.sleep(0.1)
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
    assert dates, "the served playlist dates its segments"

    # Each item's first frame, dated by its segment's date and its place in the segment.
    firsts: list[tuple[str, datetime]] = []
    previous = None
    for name in sorted(dates, key=lambda n: dates[n]):
        for index, colour in enumerate(colours_of(kept / name, STEP)):
            if colour != previous and colour != "black" and previous is not None:
                firsts.append((colour, dates[name] + timedelta(seconds=index * STEP)))
            previous = colour
    starts = {(row.media_item.relpath.removesuffix(".mp4"), row.start) for row in rows[1:]}  # type: ignore[union-attr]
    off = []
    for colour, at in firsts:
        guide_start = min(
            (start for title, start in starts if title == colour),
            key=lambda start: abs((start - at).total_seconds()),
        )
        off.append((colour, round((at - guide_start).total_seconds(), 2)))
    assert len(off) >= 3, off  # green, blue, yellow, red came on after another
    assert all(abs(seconds) < TOLERANCE for _, seconds in off), off
