"""Shuffle without repeats: every entry once per round, never twice in a row at a round's
seam, and the same order whether a compile runs at once or resumes after a rebuild."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.channels.playout.compile import (
    BlockSpec,
    Entry,
    Filler,
    PlaylistSequence,
    RowSpec,
    compile_playout,
)

PLAYLIST = 10
sizes = st.integers(min_value=1, max_value=12)
seeds = st.text(alphabet="0123456789", min_size=1, max_size=6)


def _entries(n: int, seconds: float = 60.0) -> list[Entry]:
    return [Entry(100 + i, 0.0, seconds, f"item {i}") for i in range(n)]


def _shuffle(n: int, seed: str) -> PlaylistSequence:
    return PlaylistSequence(PLAYLIST, _entries(n), order="shuffle", seed=seed)


@settings(max_examples=300, deadline=None)
@given(n=sizes, seed=seeds, rounds=st.integers(min_value=2, max_value=30))
def test_a_shuffle_plays_each_item_once_a_round_and_never_twice_at_a_seam(
    n: int, seed: str, rounds: int
) -> None:
    sequence = _shuffle(n, seed)
    played = [sequence.at(seq).media_item_id for seq in range(n * rounds)]
    for r in range(rounds):
        assert sorted(played[r * n : (r + 1) * n]) == [100 + i for i in range(n)], r
    if n > 1:
        for seam in range(n, n * rounds, n):
            assert played[seam - 1] != played[seam], ("repeat at the seam", seam)


@settings(max_examples=200, deadline=None)
@given(n=sizes, seed=seeds, start=st.integers(min_value=0, max_value=10_000))
def test_a_shuffle_read_from_any_position_plays_what_reading_in_order_plays(
    n: int, seed: str, start: int
) -> None:
    in_order = _shuffle(n, seed)
    expected = [in_order.at(seq) for seq in range(max(0, start - n), start + 2 * n)]
    resumed = _shuffle(n, seed)  # a rebuild builds a new sequence and reads from its cursor
    got = [resumed.at(seq) for seq in range(max(0, start - n), start + 2 * n)]
    assert got == expected


def test_rounds_are_not_all_the_same_order() -> None:
    sequence = _shuffle(5, "7")
    orders = {tuple(sequence.at(r * 5 + i).media_item_id for i in range(5)) for r in range(20)}
    assert len(orders) > 5, "a fresh order each round, not one order re-used"


def _flood(
    sequence: PlaylistSequence, start: datetime, end: datetime, cursors: dict[int, int]
) -> list[RowSpec]:
    return compile_playout(
        blocks=[BlockSpec(1, PLAYLIST, time(0), 0b1111111, "flood")],
        sequences={PLAYLIST: sequence},
        filler=Filler(),
        zone=ZoneInfo("Europe/Paris"),
        start=start,
        end=end,
        cursors=cursors,
    )


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=8),
    seed=seeds,
    cut_minutes=st.integers(min_value=1, max_value=12 * 60 - 1),
)
def test_a_rebuild_mid_round_keeps_the_shuffle_free_of_repeats(
    n: int, seed: str, cut_minutes: int
) -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(hours=12)
    whole = _flood(_shuffle(n, seed), start, end, {})
    # A rebuild at `cut`: the rows before it stay, the compile resumes at the cursor
    # they leave (services.playout._cursors: one past the last row kept).
    cut = start + timedelta(minutes=cut_minutes)
    kept = [row for row in whole if row.start < cut]
    cursors = {PLAYLIST: max(row.seq or 0 for row in kept) + 1}
    rebuilt = kept + _flood(_shuffle(n, seed), kept[-1].end, end, cursors)
    assert [(r.media_item_id, r.seq) for r in rebuilt] == [(r.media_item_id, r.seq) for r in whole]
    items = [r.media_item_id for r in rebuilt if not r.filler]
    assert all(a != b for a, b in pairwise(items)), "no item twice in a row"
    for r in range(len(items) // n):
        assert len(set(items[r * n : (r + 1) * n])) == n, "each item once per round"
