"""The compiler's rules for fixed airings (re-airs), on plain data: no database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from apps.channels.playout.compile import (
    BlockSpec,
    Entry,
    Filler,
    Fixed,
    PlaylistSequence,
    RowSpec,
    compile_playout,
)

ZONE = ZoneInfo("Europe/Paris")
DAY = datetime(2026, 12, 8, tzinfo=ZONE).astimezone(UTC)  # local midnight
SHOWS = PlaylistSequence(1, [Entry(10, 0.0, 600.0, "Ten"), Entry(11, 0.0, 900.0, "Eleven")])
BUMPERS = Filler(PlaylistSequence(2, [Entry(20, 0.0, 60.0, "Bumper")]), title="Ch")


def _compile(blocks: list[BlockSpec], fixed: list[Fixed], start: datetime = DAY) -> list[RowSpec]:
    rows = compile_playout(
        blocks=blocks, sequences={1: SHOWS}, filler=BUMPERS, zone=ZONE, start=start,
        end=start + timedelta(hours=6), cursors={}, fixed=fixed,
    )  # fmt: skip
    for before, after in pairwise(rows):
        assert before.end == after.start
    return rows


def _at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def test_a_fixed_airing_cuts_a_flood_with_filler_before_it() -> None:
    fixed = Fixed(_at(1.1), 1000.0, 7, "Replay", "Desc")
    rows = _compile([BlockSpec(1, 1, time(0), 0b1111111, "flood")], [fixed])
    [aired] = [r for r in rows if r.replay_id == 7]
    assert (aired.start, aired.end, aired.title, aired.description) == (
        fixed.start, fixed.end, "Replay", "Desc",
    )  # fmt: skip
    index = rows.index(aired)
    assert rows[index - 1].filler and not rows[index + 1].filler
    assert not any(r.start < fixed.start < r.end for r in rows), "nothing runs into it"


def test_a_count_block_airs_its_items_around_a_fixed_airing() -> None:
    block = BlockSpec(1, 1, time(0), 0b1111111, "count", count=4)
    rows = _compile([block], [Fixed(_at(0.25), 120.0, 7)])
    items = [r for r in rows if not r.filler and r.replay_id is None]
    assert len(items) == 4 and all(r.end - r.start >= timedelta(seconds=600) for r in items)
    assert [r.replay_id for r in rows if r.replay_id] == [7]


def test_a_fixed_airing_past_the_next_occurrence_delays_it() -> None:
    blocks = [BlockSpec(1, 1, time(0), 0b1111111, "flood"),
              BlockSpec(2, 1, time(2), 0b1111111, "flood")]  # fmt: skip
    fixed = Fixed(_at(1.9), 1800.0, 7)
    rows = _compile(blocks, [fixed])
    after = rows[[r.replay_id for r in rows].index(7) + 1]
    assert after.start == fixed.end and after.block_id == 2 and not after.filler


def test_a_compile_starting_inside_a_fixed_airing_airs_the_rest_of_it() -> None:
    fixed = Fixed(_at(0), 3600.0, 7)
    rows = _compile([BlockSpec(1, 1, time(0), 0b1111111, "flood")], [fixed], start=_at(0.5))
    assert (rows[0].replay_id, rows[0].in_point, rows[0].end) == (7, 1800.0, fixed.end)


def test_overlapping_fixed_airings_air_the_later_ones_rest() -> None:
    first, second = Fixed(_at(1), 600.0, 7), Fixed(_at(1.1), 600.0, 8)
    rows = _compile([], [first, second])
    aired = [(r.replay_id, r.start, r.in_point) for r in rows if r.replay_id]
    assert aired == [(7, first.start, 0.0), (8, first.end, 240.0)]
