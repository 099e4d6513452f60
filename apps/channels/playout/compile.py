"""The playout compiler: a schedule of local-time blocks in, absolute rows out.

Pure (no ORM): services.playout loads the channel's blocks, expands playlists
into entries with ffprobe durations, and writes what this returns.

Rules, where the issue left them open:
- A block occurrence is its local start time on each chosen weekday, in the
  channel's zone (zoneinfo). A time that does not exist on a spring-forward day
  airs at the same UTC instant as the skipped wall time (fold=0, i.e. one hour
  "late" on the wall clock); a repeated time on a fall-back day airs the first time.
- The next occurrence's start is a hard edge: whatever runs into it is cut there.
- Flood and duration blocks air items while they fit; a gap too small for the
  next item is filler (the item airs first in the next block of that playlist).
  When even the first item of an occurrence does not fit, it airs cut to fit, so
  a long film in a short block is not all filler.
- Count blocks air N items, then filler until the next occurrence.
- Filler items air while they fit and the last one is cut to fit; with no filler
  playlist the gap is one row: the slate asset, or nothing (black).
- A fixed airing (a replay re-aired at a time) is a hard edge too: nothing runs
  into it; the gap before it is filler (even for the first item of an
  occurrence: it is not cut to fit a re-air); after it the block goes on, items
  that fit, then filler. It airs whole, past a block's end or the next occurrence
  if it must (that occurrence starts late). Two that overlap: the later one airs
  what is left of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Gaps shorter than this are dropped rather than aired as a sliver of filler.
MIN_GAP = 0.001


@dataclass(frozen=True, slots=True)
class Entry:
    """One airable thing of a playlist: a media item from in_point for `duration` seconds."""

    media_item_id: int
    in_point: float
    duration: float
    title: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Fixed:
    """Something that airs at a fixed instant whatever the schedule says (a re-air)."""

    start: datetime
    duration: float
    replay_id: int
    title: str = ""
    description: str = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration)


@dataclass(frozen=True, slots=True)
class BlockSpec:
    id: int
    playlist_id: int
    start_time: time
    weekdays: int  # bit 0 = Monday
    mode: str  # "duration" | "count" | "flood"
    duration: float | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class RowSpec:
    start: datetime
    end: datetime
    media_item_id: int | None
    asset_id: int | None
    in_point: float
    out_point: float | None
    filler: bool
    block_id: int | None
    playlist_id: int | None
    seq: int | None
    title: str
    replay_id: int | None = None
    description: str = ""


@dataclass(slots=True)
class PlaylistSequence:
    """A playlist's endless sequence: entry n of round n // len, in the playlist's order.

    Shuffle plays every entry once per round, in a fresh order each round, and never
    the same media item twice in a row across a round's seam (the timeline also passes
    over an entry of the item just aired: after an edit, or two entries of one item);
    random draws each position on its own. Both are seeded by channel, playlist and
    position, and `at(seq)` is a function of `seq` alone, so a rebuild that resumes at
    `seq` airs what a single compile would.
    """

    playlist_id: int
    entries: Sequence[Entry]
    order: str = "in_order"
    seed: str = ""
    _rounds: dict[int, list[int]] = field(default_factory=dict)

    def at(self, seq: int) -> Entry:
        n = len(self.entries)
        if self.order == "random":
            rng = random.Random(f"{self.seed}:{self.playlist_id}:{seq}")  # noqa: S311 (reproducible, not secret)
            return self.entries[rng.randrange(n)]
        if self.order == "shuffle":
            rnd, pos = divmod(seq, n)
            perm = self._rounds.get(rnd)
            if perm is None:
                perm = self._round(rnd, n)
                self._rounds = {rnd: perm}  # one round cached: sequences are read in order
            return self.entries[perm[pos]]
        return self.entries[seq % n]

    def _drawn(self, rnd: int, n: int) -> tuple[list[int], random.Random]:
        perm = list(range(n))
        rng = random.Random(f"{self.seed}:{self.playlist_id}:r{rnd}")  # noqa: S311
        rng.shuffle(perm)
        return perm, rng

    def _round(self, rnd: int, n: int) -> list[int]:
        """Round `rnd`'s order: its own draw, its first entry swapped away from the last
        entry of the round before when they are the same media item.

        The swap never touches a round's last place, so the round before ends on its
        own draw's last entry: every round depends on two draws, not on all the rounds
        since the first (a rebuild reads any position at the same cost). With two
        entries the seam rule leaves one order, the first round's, for every round.
        """
        if n == 2:
            rnd = 0
        perm, rng = self._drawn(rnd, n)
        if rnd > 0 and n > 2:
            # Media items, not entries: a folder and a nested playlist can reach one twice.
            before_last = self.entries[self._drawn(rnd - 1, n)[0][-1]].media_item_id
            if self.entries[perm[0]].media_item_id == before_last:
                # Any place but the first and the last, holding another item.
                other = [
                    i for i in range(1, n - 1) if self.entries[perm[i]].media_item_id != before_last
                ]
                if other:
                    swap = other[rng.randrange(len(other))]
                    perm[0], perm[swap] = perm[swap], perm[0]
        return perm


@dataclass(frozen=True, slots=True)
class Filler:
    sequence: PlaylistSequence | None = None
    asset_id: int | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Occurrence:
    block: BlockSpec
    start: datetime
    hard_end: datetime | None  # the next occurrence's start


def _local_start(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def occurrences(
    blocks: Sequence[BlockSpec], zone: ZoneInfo, start: datetime, end: datetime
) -> list[Occurrence]:
    """Every block occurrence whose window can touch [start, end), each with its hard end.

    Looks back a week so a weekly block still flooding at `start` is found.
    """
    first_day = start.astimezone(zone).date() - timedelta(days=7)
    last_day = end.astimezone(zone).date() + timedelta(days=8)
    starts: dict[datetime, BlockSpec] = {}
    day = first_day
    while day <= last_day:
        for block in blocks:
            if block.weekdays & (1 << day.weekday()):
                at = _local_start(day, block.start_time, zone)
                # Two blocks at one instant: the first (by id) wins, deterministically.
                if at not in starts or block.id < starts[at].id:
                    starts[at] = block
        day += timedelta(days=1)
    ordered = sorted(starts.items())
    result = [
        Occurrence(block, at, ordered[i + 1][0] if i + 1 < len(ordered) else None)
        for i, (at, block) in enumerate(ordered)
    ]
    return [o for o in result if (o.hard_end is None or o.hard_end > start) and o.start < end]


class _Timeline:
    """The rows being written, each playlist's next position, and the fixed airings ahead."""

    def __init__(
        self,
        start: datetime,
        cursors: dict[int, int],
        fixed: Sequence[Fixed] = (),
        last_items: dict[int, int | None] | None = None,
    ) -> None:
        self.t = start
        self.rows: list[RowSpec] = []
        self.cursors = cursors
        self.last_items = dict(last_items or {})  # playlist id → media item it aired last
        self.fixed = sorted((f for f in fixed if f.end > start), key=lambda f: f.start)

    def edge(self, limit: datetime) -> datetime:
        """`limit`, or the start of the next fixed airing if that comes first."""
        for f in self.fixed:
            if f.start > self.t:
                return min(limit, f.start)
        return limit

    def air_fixed_due(self) -> bool:
        """Air the fixed airing due now (what is left of it, if it began earlier)."""
        while self.fixed and self.fixed[0].end <= self.t:
            self.fixed.pop(0)  # overlapped by the one before: nothing left of it
        if not self.fixed or self.fixed[0].start > self.t:
            return False
        f = self.fixed.pop(0)
        skip = (self.t - f.start).total_seconds()
        self.rows.append(
            RowSpec(self.t, f.end, None, None, skip, f.duration, False, None, None, None,
                    f.title, f.replay_id, f.description)
        )  # fmt: skip
        self.t = f.end
        return True

    def next_entry(self, seq: PlaylistSequence) -> tuple[int, Entry]:
        """The playlist's next position and entry. A shuffle passes over an entry of the
        media item that playlist aired last: after an edit its rounds are drawn for the
        new size, so the item that just aired can come first again, and one item can be
        two entries (a folder and a nested playlist). Its row's `seq` says what was passed
        over, so a rebuild resuming after it reads on from there, as a single compile."""
        n = self.cursors.get(seq.playlist_id, 0)
        entry = seq.at(n)
        last = self.last_items.get(seq.playlist_id)
        if seq.order == "shuffle" and last is not None:
            for later in range(n + 1, n + len(seq.entries)):
                if entry.media_item_id != last:
                    break
                n, entry = later, seq.at(later)
        return n, entry

    def air(
        self,
        entry: Entry,
        seconds: float,
        *,
        seq: PlaylistSequence,
        n: int,
        filler: bool,
        block_id: int | None,
    ) -> None:
        end = self.t + timedelta(seconds=seconds)
        cut = seconds < entry.duration - 1e-6
        self.rows.append(
            RowSpec(
                start=self.t,
                end=end,
                media_item_id=entry.media_item_id,
                asset_id=None,
                in_point=entry.in_point,
                out_point=entry.in_point + (seconds if cut else entry.duration),
                filler=filler,
                block_id=block_id,
                playlist_id=seq.playlist_id,
                seq=n,
                title=entry.title,
                description="" if filler else entry.description,
            )
        )
        self.cursors[seq.playlist_id] = n + 1
        self.last_items[seq.playlist_id] = entry.media_item_id
        self.t = end

    def fill(self, until: datetime, filler: Filler, block_id: int | None) -> None:
        """Filler from t to `until`, fixed airings in it aired at their times."""
        while (until - self.t).total_seconds() > MIN_GAP:
            if not self.air_fixed_due():
                self._fill_span(self.edge(until), filler, block_id)
        self.t = max(self.t, until)

    def _fill_span(self, until: datetime, filler: Filler, block_id: int | None) -> None:
        """Filler from t to `until`: items while they fit, the last cut to fit."""
        seq = filler.sequence
        while (until - self.t).total_seconds() > MIN_GAP:
            gap = (until - self.t).total_seconds()
            if seq is None or not seq.entries:
                self.rows.append(
                    RowSpec(self.t, until, None, filler.asset_id, 0.0, gap, True, block_id,
                            None, None, filler.title)
                )  # fmt: skip
                self.t = until
                return
            n, entry = self.next_entry(seq)
            self.air(entry, min(gap, entry.duration), seq=seq, n=n, filler=True, block_id=block_id)
        self.t = max(self.t, until)


def compile_playout(
    *,
    blocks: Sequence[BlockSpec],
    sequences: dict[int, PlaylistSequence],
    filler: Filler,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    cursors: dict[int, int],
    aired_since: Callable[[int, datetime], int] = lambda block_id, since: 0,
    fixed: Sequence[Fixed] = (),
    last_items: dict[int, int | None] | None = None,
) -> list[RowSpec]:
    """Rows covering [start, end) without gaps or overlaps (the last may run past `end`).

    `cursors` maps playlist id → next position and is advanced in place; `last_items`
    maps playlist id → the media item of its last row kept before `start` (a rebuild).
    `aired_since(block_id, occurrence_start)` counts items a count block already
    aired before `start`, for a compile that resumes inside an occurrence.
    `fixed` air at their own times (see the module's rules).
    """
    line = _Timeline(start, cursors, fixed, last_items)
    occs = occurrences(blocks, zone, start, end)
    if not occs:
        line.fill(end, filler, None)
        return line.rows
    if occs[0].start > start:
        line.fill(min(occs[0].start, end), filler, None)
    for occ in occs:
        if line.t >= end:
            break
        hard_end = occ.hard_end or end
        if line.t < occ.start:
            line.fill(occ.start, filler, None)
        seq = sequences.get(occ.block.playlist_id)
        _air_block(line, occ, seq, hard_end, end, aired_since, filler)
        line.fill(min(hard_end, max(end, line.t)), filler, occ.block.id)
    return line.rows


def _air_block(
    line: _Timeline,
    occ: Occurrence,
    seq: PlaylistSequence | None,
    hard_end: datetime,
    end: datetime,
    aired_since: Callable[[int, datetime], int],
    filler: Filler,
) -> None:
    block = occ.block
    if seq is None or not seq.entries:
        return
    if block.mode == "count":
        left = (block.count or 0) - (aired_since(block.id, occ.start) if line.t > occ.start else 0)
        while left > 0 and line.t < hard_end and line.t < end:
            if line.air_fixed_due():
                continue
            edge = line.edge(hard_end)
            n, entry = line.next_entry(seq)
            room = (edge - line.t).total_seconds()
            if edge < hard_end and entry.duration > room + 1e-6:
                line.fill(edge, filler, block.id)  # up to the fixed airing
                continue
            line.air(
                entry, min(room, entry.duration), seq=seq, n=n, filler=False, block_id=block.id
            )
            left -= 1
        return
    block_end = hard_end
    if block.mode == "duration" and block.duration:
        block_end = min(hard_end, occ.start + timedelta(seconds=block.duration))
    first = line.t <= occ.start
    while line.t < block_end and line.t < end:
        if line.air_fixed_due():
            first = False
            continue
        edge = line.edge(block_end)
        n, entry = line.next_entry(seq)
        room = (edge - line.t).total_seconds()
        if entry.duration <= room + 1e-6:
            line.air(entry, entry.duration, seq=seq, n=n, filler=False, block_id=block.id)
        elif edge < block_end:
            line.fill(edge, filler, block.id)  # up to the fixed airing
        elif first:
            line.air(entry, room, seq=seq, n=n, filler=False, block_id=block.id)
        else:
            return
        first = False
