"""The fast guide renderer (epoch microseconds, per-zone offset spans) equals the old one.

The reference is the renderer as it was (tests/epg_reference.py: a datetime per
time, astimezone + strftime); both render the same rows, byte for byte, across
daylight-saving changes, half-hour and quarter-hour zones, sub-second times and
offsets that are not whole minutes. The database half checks that the epoch the
query computes (feeds.EpochMicros) is the stored time exactly, on the backend the
tests run on (SQLite in the fast loop, PostgreSQL in the full run).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.channels import epg
from apps.channels.feeds import guide_rows, guide_spans
from apps.channels.models import Channel, PlayoutRow
from apps.channels.tests import epg_reference as reference

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",  # +0530
    "Asia/Kathmandu",  # +0545
    "Australia/Lord_Howe",  # a half-hour daylight-saving change
    "America/St_Johns",  # -0330 / -0230
    "UTC",
]
RELPATHS = [
    "",
    'Show & <Co>/Show - S01E02 - Ep "2".mkv',
    "Films/Пёс и кот.mp4",
    "Shows\x07/Bell\x01 & Red 'A' 東京 - S02E05 - <b>Pilot<b>.mp4",
]

Row = tuple[int, datetime, str, str]


def _week(rng: random.Random, channel_id: int, start: datetime, days: float) -> list[Row]:
    """Items of random length with random gaps (filler), times with microseconds."""
    rows: list[Row] = []
    at = start
    end = start + timedelta(days=days)
    while at < end:
        rows.append((channel_id, at, f"Title {rng.randint(0, 9)} & <x>", rng.choice(RELPATHS)))
        at += timedelta(seconds=rng.uniform(20, 3000))
        if rng.random() < 0.3:  # a gap the guide folds into the item before
            at += timedelta(microseconds=rng.choice([1, 250_000, 999_999, 30_000_000]))
    return rows


def _both(
    specs: list[tuple[int, str]], rows: list[Row], spans: dict[int, tuple[datetime, datetime]]
) -> tuple[bytes, bytes]:
    old_channels = [
        reference.GuideChannel(id=i, guide_id=f"c{i}.castcore", number=i, name=f"C & {i}",
                               zone=ZoneInfo(zone), icon_url="http://x/a?b=1&c=2")
        for i, zone in specs
    ]  # fmt: skip
    new_channels = [
        epg.GuideChannel(id=c.id, guide_id=c.guide_id, number=c.number, name=c.name,
                         zone=c.zone, icon_url=c.icon_url)
        for c in old_channels
    ]  # fmt: skip
    old = reference.render_xmltv(old_channels, rows, spans, source_url="http://h/")
    new = epg.render_xmltv(
        new_channels,
        [(c, epg.epoch_micros(at), t, p, "") for c, at, t, p in rows],
        {c: (epg.epoch_micros(a), epg.epoch_micros(b)) for c, (a, b) in spans.items()},
        source_url="http://h/",
    )
    return "".join(old).encode(), "".join(new).encode()


@pytest.mark.parametrize(
    "around",
    [
        datetime(2026, 3, 26, 7, 13, tzinfo=UTC),  # Europe springs forward on the 29th
        datetime(2026, 3, 5, 23, 59, 59, 999_999, tzinfo=UTC),  # the US on the 8th
        datetime(2026, 10, 22, 0, 0, tzinfo=UTC),  # Europe falls back on the 25th
        datetime(2026, 10, 29, 12, 0, 0, 1, tzinfo=UTC),  # the US on 1 November
        datetime(2026, 4, 1, 0, 0, tzinfo=UTC),  # Lord Howe on the 5th
        datetime(2026, 9, 30, 0, 0, tzinfo=UTC),  # Lord Howe and St John's in the autumn
    ],
)
def test_the_fast_guide_equals_the_reference_across_zone_changes(around: datetime) -> None:
    rng = random.Random(around.toordinal())
    specs = list(enumerate(ZONES, start=1))
    rows: list[Row] = []
    spans: dict[int, tuple[datetime, datetime]] = {}
    for channel_id, _ in specs[:-1]:
        week = _week(rng, channel_id, around + timedelta(seconds=rng.uniform(0, 600)), 8)
        # Filler before the first item (once by less than a second), after the last.
        lead = timedelta(microseconds=300) if channel_id == 2 else timedelta(minutes=7)
        spans[channel_id] = (week[0][1] - lead, week[-1][1] + timedelta(minutes=41))
        rows += week
    # The last channel has only filler: one programme named after the channel.
    spans[specs[-1][0]] = (around, around + timedelta(days=7))
    old, new = _both(specs, rows, spans)
    assert new.count(b"<programme ") > 1000
    assert new == old


def test_offsets_that_are_not_whole_minutes_take_the_reference_path() -> None:
    # Amsterdam kept +01:19:32 in summer until 1 July 1937 (then +0120): %z prints seconds.
    rng = random.Random(1937)
    start = datetime(1937, 6, 28, tzinfo=UTC)
    rows = _week(rng, 1, start, 6)
    spans = {1: (rows[0][1], rows[-1][1] + timedelta(hours=1))}
    old, new = _both([(1, "Europe/Amsterdam")], rows, spans)
    assert b' +011932"' in new and b' +0120"' in new
    assert new == old


def test_a_window_far_wider_than_a_guide_still_renders_like_the_reference() -> None:
    rows = [(1, datetime(1990, 1, 1, tzinfo=UTC), "Old", ""),
            (1, datetime(2030, 1, 1, tzinfo=UTC), "New", "")]  # fmt: skip
    spans = {1: (rows[0][1], rows[1][1] + timedelta(hours=1))}
    old, new = _both([(1, "Europe/Paris")], rows, spans)
    assert new == old


@pytest.mark.django_db
def test_the_guide_query_hands_over_exact_epoch_microseconds() -> None:
    channel = Channel.objects.create(number=9, name="Nine", slug="nine", time_zone="Asia/Tokyo")
    base = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    steps = [0, 1, 1_999_999, 300_500_000, 3_600_000_000]  # microseconds after base
    starts = [base + timedelta(microseconds=step) for step in steps]
    PlayoutRow.objects.bulk_create(
        PlayoutRow(channel=channel, start=a, end=b, title=f"T{i}")
        for i, (a, b) in enumerate(
            zip(starts, [*starts[1:], base + timedelta(hours=2)], strict=True)
        )
    )
    window = (base - timedelta(hours=1), base + timedelta(days=1))
    got = list(guide_rows([channel.pk], *window))
    assert [r[1] for r in got] == [epg.epoch_micros(a) for a in starts]
    assert guide_spans([channel.pk], *window) == {
        channel.pk: (epg.epoch_micros(base), epg.epoch_micros(base + timedelta(hours=2)))
    }
