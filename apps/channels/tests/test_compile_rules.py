"""The compiler's rules on their own (no database): DST edges, orders, cuts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apps.channels.playout.compile import (
    BlockSpec,
    Entry,
    Filler,
    PlaylistSequence,
    compile_playout,
    occurrences,
)

NEW_YORK = ZoneInfo("America/New_York")
DAILY = 0b1111111


def _block(start: time, mode: str = "flood", **extra: object) -> BlockSpec:
    return BlockSpec(id=1, playlist_id=10, start_time=start, weekdays=DAILY, mode=mode, **extra)  # type: ignore[arg-type]


def test_a_wall_time_skipped_by_spring_forward_airs_at_the_skipped_instant() -> None:
    # 14 March 2027: New York's clocks jump from 02:00 to 03:00.
    day = datetime(2027, 3, 14, tzinfo=UTC)
    found = occurrences([_block(time(2, 30))], NEW_YORK, day, day + timedelta(days=1))
    starts = [o.start for o in found if o.start.date() == day.date()]
    assert starts == [datetime(2027, 3, 14, 7, 30, tzinfo=UTC)]  # 02:30 EST = 03:30 EDT


def test_a_wall_time_repeated_by_fall_back_airs_once_the_first_time() -> None:
    day = datetime(2026, 11, 1, 4, tzinfo=UTC)  # midnight EDT
    found = occurrences([_block(time(1, 30))], NEW_YORK, day, day + timedelta(hours=20))
    assert [o.start for o in found if o.start >= day][:1] == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST
    ]


def test_a_shuffle_airs_every_entry_once_per_round() -> None:
    entries = [Entry(i, 0.0, 60.0) for i in range(7)]
    sequence = PlaylistSequence(playlist_id=10, entries=entries, order="shuffle", seed="1")
    for round_ in range(5):
        seen = [sequence.at(round_ * 7 + i).media_item_id for i in range(7)]
        assert sorted(seen) == list(range(7))
    again = PlaylistSequence(playlist_id=10, entries=entries, order="shuffle", seed="1")
    assert [again.at(i).media_item_id for i in range(20)] == [
        sequence.at(i).media_item_id for i in range(20)
    ], "a rebuild resuming at a position airs what a single compile would"


def test_a_long_first_item_is_cut_to_its_block_and_later_ones_wait() -> None:
    start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    blocks = [
        BlockSpec(1, 10, time(0), DAILY, "duration", duration=600.0),
        BlockSpec(2, 20, time(1), DAILY, "flood"),
    ]
    sequences = {
        10: PlaylistSequence(10, [Entry(1, 5.0, 900.0)]),
        20: PlaylistSequence(20, [Entry(2, 0.0, 1000.0)]),
    }
    rows = compile_playout(
        blocks=blocks, sequences=sequences, filler=Filler(asset_id=99), zone=ZoneInfo("UTC"),
        start=start, end=start + timedelta(hours=2), cursors={},
    )  # fmt: skip
    first = rows[0]
    assert (first.media_item_id, first.in_point, first.out_point) == (1, 5.0, 605.0)
    assert first.end == start + timedelta(minutes=10)
    slate = rows[1]
    assert slate.filler and slate.asset_id == 99 and slate.end == start + timedelta(hours=1)
    # The flood airs whole items while they fit, then the slate pads to the next block.
    floods = [r for r in rows if r.block_id == 2 and not r.filler]
    assert all(r.out_point == 1000.0 for r in floods)
    assert rows[-1].end >= start + timedelta(hours=2)
