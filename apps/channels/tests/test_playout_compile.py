"""A week of playout compiled from a schedule matches it, across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.channels.models import (
    BlockMode,
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.selectors import playout_at
from apps.channels.services.playout import (
    playout_extend,
    playout_inputs_changed_since,
    playout_rebuild,
    playout_refresh,
)
from apps.channels.tests.conftest import ClipLibrary

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
# Thursday 29 October 2026, midnight in New York; clocks fall back on Sunday 1 November.
NOW = datetime(2026, 10, 29, 0, 0, tzinfo=NEW_YORK).astimezone(UTC)
WEEK = timedelta(days=7)
WEEKDAYS = 0b0011111
WEEKEND = 0b1100000


def _playlist(name: str, library: ClipLibrary, *relpaths: str, order: str = "in_order") -> Playlist:
    playlist = Playlist.objects.create(name=name, order=order)
    for position, relpath in enumerate(relpaths):
        PlaylistItem.objects.create(
            playlist=playlist, position=position, kind=ItemKind.MEDIA, media_item=library[relpath]
        )
    return playlist


@pytest.fixture
def channel(clip_library: ClipLibrary) -> Channel:
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    films = Playlist.objects.create(name="Films", order="shuffle")
    PlaylistItem.objects.create(
        playlist=films, kind=ItemKind.FOLDER, source=clip_library.source, folder="Films"
    )
    filler = _playlist("Bumpers", clip_library, "Filler/bumper.mp4")
    channel = Channel.objects.create(
        number=5, name="Five", slug="five", time_zone="America/New_York", filler_playlist=filler
    )
    # 06:00 daily, one hour of news; 18:00 on weekdays, films until the next block;
    # 12:00 at weekends, exactly two news items.
    ScheduleBlock.objects.create(
        channel=channel, playlist=news, start_time=time(6), mode=BlockMode.DURATION, duration=3600
    )
    ScheduleBlock.objects.create(
        channel=channel, playlist=films, start_time=time(18), weekdays=WEEKDAYS,
        mode=BlockMode.FLOOD,
    )  # fmt: skip
    ScheduleBlock.objects.create(
        channel=channel, playlist=news, start_time=time(12), weekdays=WEEKEND,
        mode=BlockMode.COUNT, count=2,
    )  # fmt: skip
    return channel


def _path(row: PlayoutRow) -> str:
    return row.media_item.relpath if row.media_item else ""


def _duration(row: PlayoutRow) -> float:
    return row.media_item.duration or 0.0 if row.media_item else 0.0


def _rows(channel: Channel) -> list[PlayoutRow]:
    return list(PlayoutRow.objects.filter(channel=channel).select_related("media_item", "block"))


def test_a_week_of_rows_is_contiguous_and_reaches_the_horizon(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW)
    rows = _rows(channel)
    assert rows[0].start == NOW and rows[-1].end >= NOW + WEEK
    for before, after in pairwise(rows):
        assert before.end == after.start, f"gap or overlap at {before.end}"


def test_fixed_time_blocks_start_on_the_local_clock_across_the_dst_change(
    channel: Channel,
) -> None:
    playout_rebuild(channel=channel, now=NOW)
    starts = {
        row.start for row in _rows(channel) if not row.filler and row.block and row.block.mode
    }
    for day in range(7):
        local = (NOW.astimezone(NEW_YORK) + timedelta(days=day)).date()
        six = datetime.combine(local, time(6)).replace(tzinfo=NEW_YORK)
        assert six.astimezone(UTC) in starts, f"06:00 on {local}"
    # EDT (UTC-4) before the change, EST (UTC-5) after: 10:00 then 11:00 UTC.
    assert datetime(2026, 10, 31, 10, 0, tzinfo=UTC) in starts
    assert datetime(2026, 11, 1, 11, 0, tzinfo=UTC) in starts
    assert datetime(2026, 11, 1, 10, 0, tzinfo=UTC) not in starts


def test_a_duration_block_airs_whole_items_then_filler_until_the_next_block(
    channel: Channel,
) -> None:
    playout_rebuild(channel=channel, now=NOW)
    rows = _rows(channel)
    news_block = ScheduleBlock.objects.get(mode=BlockMode.DURATION)
    for row in rows:
        if row.block_id == news_block.pk and not row.filler:
            local = row.start.astimezone(NEW_YORK)
            assert time(6) <= local.time() and row.end.astimezone(NEW_YORK).time() <= time(7)
            # Whole items: each row is as long as ffprobe says the file is.
            assert row.seconds == pytest.approx(_duration(row), abs=1e-3)
    filler = [r for r in rows if r.filler]
    assert filler and all(_path(r) == "Filler/bumper.mp4" for r in filler)
    # Filler is cut to fit: no filler row overruns the block that follows it.
    assert all(r.seconds <= 60.0 + 1e-3 for r in filler)


def test_weekday_blocks_air_only_on_their_days(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW)
    for row in _rows(channel):
        if row.filler or row.block is None:
            continue
        weekday = row.start.astimezone(NEW_YORK).weekday()
        if row.block.mode == BlockMode.FLOOD:
            assert weekday < 5 or row.start.astimezone(NEW_YORK).time() < time(6)
        if row.block.mode == BlockMode.COUNT:
            assert weekday >= 5


def test_a_count_block_airs_exactly_its_items(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW)
    count_block = ScheduleBlock.objects.get(mode=BlockMode.COUNT)
    per_day: dict[object, int] = {}
    for row in _rows(channel):
        if row.block_id == count_block.pk and not row.filler:
            day = row.start.astimezone(NEW_YORK).date()
            per_day[day] = per_day.get(day, 0) + 1
    # Saturday 31 October and Sunday 1 November.
    assert sorted(per_day.values()) == [2, 2] and len(per_day) == 2


def test_a_flood_fills_until_the_next_block_and_a_shuffle_repeats_nothing_in_a_round(
    channel: Channel,
) -> None:
    playout_rebuild(channel=channel, now=NOW)
    rows = _rows(channel)
    flood = ScheduleBlock.objects.get(mode=BlockMode.FLOOD)
    thursday = [
        r for r in rows
        if r.block_id == flood.pk and not r.filler
        and r.start.astimezone(NEW_YORK).date() == NOW.astimezone(NEW_YORK).date()
        and r.start.astimezone(NEW_YORK).time() >= time(12)
    ]  # fmt: skip
    # Wednesday's flood was still airing at midnight: the compile joined it there.
    assert rows[0].block_id == flood.pk
    # From 18:00 Thursday to 06:00 Friday, 12 hours of 20 and 15 minute films.
    assert thursday[0].start == datetime(2026, 10, 29, 18, tzinfo=NEW_YORK)
    titles = [_path(r) for r in rows if r.block_id == flood.pk and not r.filler]
    for i in range(0, len(titles) - 1, 2):
        assert titles[i] != titles[i + 1], "each film once per round of the shuffle"
    friday_six = datetime(2026, 10, 30, 6, tzinfo=NEW_YORK)
    overnight = [r for r in thursday if r.start < friday_six]
    assert overnight[-1].end <= friday_six


def test_in_order_position_carries_over_from_block_to_block(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW)
    news = Playlist.objects.get(name="News")
    seqs = [r.seq for r in _rows(channel) if r.playlist_id == news.pk]
    assert seqs == list(range(len(seqs)))
    episodes = [r.title for r in _rows(channel) if r.playlist_id == news.pk][:4]
    assert episodes == ["Morning News"] * 4


def test_a_rebuild_keeps_the_past_and_the_airing_row_and_resumes_each_playlist(
    channel: Channel,
) -> None:
    playout_rebuild(channel=channel, now=NOW)
    before = _rows(channel)
    news = Playlist.objects.get(name="News")
    change = datetime(2026, 10, 31, 6, 10, tzinfo=NEW_YORK).astimezone(UTC)
    airing = playout_at(channel, change)
    assert airing is not None and airing.row.playlist_id == news.pk
    kept = [r.pk for r in before if r.start <= change]
    next_seq = airing.row.seq + 1  # type: ignore[operator]

    ScheduleBlock.objects.filter(mode=BlockMode.DURATION).update(duration=1800)
    playout_rebuild(channel=channel, since=change, now=change)

    after = _rows(channel)
    assert [r.pk for r in after if r.start <= change] == kept
    resumed = [r for r in after if r.start > change and r.playlist_id == news.pk]
    assert resumed[0].seq == next_seq and resumed[0].start == airing.row.end


def test_playout_at_answers_the_row_and_the_offset(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW)
    six = datetime(2026, 10, 30, 6, 0, tzinfo=NEW_YORK).astimezone(UTC)
    now_playing = playout_at(channel, six + timedelta(seconds=42.5))
    assert now_playing is not None
    assert now_playing.row.start == six and now_playing.offset == pytest.approx(42.5)
    assert playout_at(channel, NOW + timedelta(days=30)) is None


def test_extend_continues_from_the_last_row_without_a_seam(channel: Channel) -> None:
    playout_rebuild(channel=channel, now=NOW, horizon=timedelta(days=2))
    end = _rows(channel)[-1].end
    playout_extend(channel=channel, now=NOW + timedelta(days=1), horizon=timedelta(days=2))
    rows = _rows(channel)
    assert rows[-1].end >= NOW + timedelta(days=3)
    for before, after in pairwise(rows):
        assert before.end == after.start
    assert any(r.start == end for r in rows)


def test_a_channel_with_no_schedule_airs_its_slate_or_black(clip_library: ClipLibrary) -> None:
    channel = Channel.objects.create(number=9, name="Nine", slug="nine")
    playout_rebuild(channel=channel, now=NOW, horizon=timedelta(hours=6))
    rows = _rows(channel)
    assert len(rows) == 1 and rows[0].filler and rows[0].media_item is None
    assert rows[0].seconds == 6 * 3600


def test_the_periodic_refresh_extends_unchanged_channels_and_rebuilds_changed_ones(
    channel: Channel, clip_library: ClipLibrary
) -> None:
    playout_rebuild(channel=channel, now=NOW, horizon=timedelta(days=2))
    # Compiled after the schedule was written (NOW is a date in the past).
    Channel.objects.filter(pk=channel.pk).update(playout_compiled_at=timezone.now())
    channel.refresh_from_db()
    kept = set(PlayoutRow.objects.filter(channel=channel).values_list("pk", flat=True))
    later = NOW + timedelta(days=1)
    playout_refresh(channel=channel, now=later)
    # Nothing changed: the rows stay and new ones reach the horizon.
    assert kept <= set(PlayoutRow.objects.filter(channel=channel).values_list("pk", flat=True))

    # A media file changed (a rescan rewrote its row) after the last compile: rebuilt.
    channel.refresh_from_db()
    item = clip_library["Morning News/Morning News - S01E02 - Weather.mp4"]
    item.duration = 100.0
    item.save()
    assert playout_inputs_changed_since(channel, channel.playout_compiled_at)  # type: ignore[arg-type]
    playout_refresh(channel=channel, now=timezone.now())
    rows = PlayoutRow.objects.filter(channel=channel, media_item=item, start__gt=timezone.now())
    assert rows.exists() and all(r.seconds == pytest.approx(100.0) for r in rows)
