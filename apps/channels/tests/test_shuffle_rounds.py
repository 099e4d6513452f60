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


def _resume(
    kept: list[RowSpec], sequence: PlaylistSequence, end: datetime, *, last_items: bool = True
) -> list[RowSpec]:
    """A rebuild after the kept rows, as services.playout makes it: the cursor one past the
    last kept row, and that row's media item (compile_playout's `last_items`)."""
    last = max((row for row in kept if row.seq is not None), key=lambda row: row.seq or 0)
    return compile_playout(
        blocks=[BlockSpec(1, PLAYLIST, time(0), 0b1111111, "flood")],
        sequences={PLAYLIST: sequence},
        filler=Filler(),
        zone=ZoneInfo("Europe/Paris"),
        start=kept[-1].end,
        end=end,
        cursors={PLAYLIST: (last.seq or 0) + 1},
        last_items={PLAYLIST: last.media_item_id} if last_items else None,
    )


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=8),
    edited=st.lists(st.integers(min_value=0, max_value=11), min_size=2, max_size=12, unique=True),
    seed=seeds,
    cut_minutes=st.integers(min_value=1, max_value=6 * 60 - 1),
)
def test_an_edit_between_rounds_never_airs_the_item_that_just_aired_again(
    n: int, edited: list[int], seed: str, cut_minutes: int
) -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(hours=12)
    before = _flood(_shuffle(n, seed), start, end, {})
    cut = start + timedelta(minutes=cut_minutes)
    kept = [row for row in before if row.start < cut]
    # The playlist edited (items added, removed, reordered): its rounds are drawn anew for
    # its new size, so the position the rebuild resumes at holds any of its items.
    entries = [Entry(100 + i, 0.0, 60.0, f"item {i}") for i in edited]
    after = _resume(kept, PlaylistSequence(PLAYLIST, entries, order="shuffle", seed=seed), end)
    items = [r.media_item_id for r in kept + after]
    assert all(a != b for a, b in pairwise(items)), "no item twice in a row, the seam included"


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=5, max_value=10),
    twice=st.integers(min_value=0, max_value=4),
    seed=seeds,
    cut_minutes=st.integers(min_value=1, max_value=12 * 60 - 1),
)
def test_one_media_item_reached_twice_does_not_air_twice_in_a_row(
    n: int, twice: int, seed: str, cut_minutes: int
) -> None:
    # Item `twice` is in the playlist twice: through a folder and a nested playlist.
    entries = [*_entries(n), Entry(100 + twice, 0.0, 60.0, "again")]
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(hours=12)
    sequence = PlaylistSequence(PLAYLIST, entries, order="shuffle", seed=seed)
    whole = _flood(sequence, start, end, {})
    items = [r.media_item_id for r in whole]
    assert all(a != b for a, b in pairwise(items)), "no item twice in a row"
    cut = start + timedelta(minutes=cut_minutes)
    kept = [row for row in whole if row.start < cut]
    rebuilt = kept + _resume(kept, PlaylistSequence(PLAYLIST, entries, "shuffle", seed), end)
    assert [(r.media_item_id, r.seq) for r in rebuilt] == [(r.media_item_id, r.seq) for r in whole]


def test_without_the_last_item_an_edit_can_air_it_again() -> None:
    """What the fix is for: the rebuild that did not know the item it resumes after."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(hours=2)
    found = False
    for seed in map(str, range(200)):
        before = _flood(_shuffle(6, seed), start, end, {})
        kept = before[:6]  # one round
        sequence = PlaylistSequence(PLAYLIST, _entries(7), order="shuffle", seed=seed)
        after = _resume(kept, sequence, end, last_items=False)
        if after[0].media_item_id == kept[-1].media_item_id:
            found = True
            fixed = _resume(kept, sequence, end)
            assert fixed[0].media_item_id != kept[-1].media_item_id
    assert found, "some seed repeats the item across an edit when the rule is left out"
