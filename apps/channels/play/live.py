"""A channel's HLS as the web serves it: which listed segments are live, the first viewer's
bounded wait, and the continuous MPEG-TS that HDHomeRun clients (Plex, Jellyfin) play.

The playlist on disk is ffmpeg's (hlsenc with append_list): it goes on across ffmpeg
restarts, so after a stop it still lists the last run's segments, and a new run
appends to them. What is live is decided here, in one place, from the files:

- segments of a run (one ffmpeg's, up to the next EXT-X-DISCONTINUITY) that began
  before the channel was last stopped (the stop marker's time) are not live, nor are
  those before a gap in writing longer than `stale_seconds()` (an
  earlier run: a killed worker, a stop and a start);
- a playlist whose newest segment is older than that is not live at all (nothing
  plays now: the channel stopped, or its ffmpeg is down).

Both the HLS playlist view and the MPEG-TS stream read `live_playlist`.

Trimming the playlist to its live part, and hlsenc's own rolling window, drop the
EXT-X-DISCONTINUITY of joins (one ffmpeg's segments after another's) from what is served:
RFC 8216 (6.2.2) then wants EXT-X-DISCONTINUITY-SEQUENCE incremented, so that each
segment keeps its discontinuity sequence number across reloads. The joins the playlist
listed are kept in a small file of the HLS folder (`JOINS_FILE`), and the served value
counts those at or before the first served segment.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from apps.channels.play import conf
from apps.channels.play.paths import PLAYLIST, hls_dir
from workers.ffmpeg.muxers import is_hls_segment

logger = logging.getLogger(__name__)

#: Written into a channel's HLS folder when it is stopped; its mtime is the stop.
STOP_MARKER = "stopped"
#: In a channel's HLS folder: the joins its playlist listed (JSON: `joins`, their media
#: sequence numbers, and `before`, how many were forgotten below the oldest listed one).
JOINS_FILE = "joins.json"
#: How often a waiting request or a stream looks at the playlist again.
POLL_SECONDS = 0.25
#: A stream starts this many segments behind the live edge: the client gets them at
#: once and has that much picture in hand while the next segment is being made. A
#: starting channel's first viewer is held until the playlist lists as many.
STREAM_START_SEGMENTS = 2
#: A stream whose channel wrote nothing new for this long ends (the channel stopped, or
#: its ffmpeg is down for good); an HDHomeRun client then tunes again.
STREAM_STALL_SECONDS = 30.0
#: Bytes read and sent at a time: whole MPEG-TS packets (188 bytes each).
CHUNK_BYTES = 188 * 348
TS_PACKET = 188
TS_SYNC = 0x47
# Playlist-level tags: everything else before a URI belongs to that segment.
_PLAYLIST_TAGS = (
    "#EXTM3U",
    "#EXT-X-VERSION",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-ALLOW-CACHE",
    "#EXT-X-START",
)
_MEDIA_SEQUENCE = "#EXT-X-MEDIA-SEQUENCE:"
_DISCONTINUITY = "#EXT-X-DISCONTINUITY"
_DISCONTINUITY_SEQUENCE = "#EXT-X-DISCONTINUITY-SEQUENCE:"


def stale_seconds() -> float:
    """How long without a new segment means that nothing plays (or an earlier run).

    Segments come every SEGMENT_SECONDS; an ffmpeg that replaces another (the next
    window) takes a second or two to write its first. A slower start only makes a
    playlist look not live for a moment: the viewer's request waits for it.
    """
    return max(10.0, 4.0 * conf.SEGMENT_SECONDS)


@dataclass(frozen=True, slots=True)
class Segment:
    sequence: int  # its media sequence number (hlsenc names it after it)
    name: str
    tags: tuple[str, ...]  # #EXTINF and any other tag of this segment
    discontinuity: bool  # a join (another ffmpeg) before it
    written: float = 0.0  # the file's mtime


@dataclass(frozen=True, slots=True)
class LivePlaylist:
    """The live part of a channel's playlist, as served."""

    header: tuple[str, ...]
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    # The joins at or before the first segment (RFC 8216's EXT-X-DISCONTINUITY-SEQUENCE).
    discontinuity_sequence: int = 0

    def text(self) -> str:
        lines = [
            *self.header,
            f"{_MEDIA_SEQUENCE}{self.segments[0].sequence}",
            f"{_DISCONTINUITY_SEQUENCE}{self.discontinuity_sequence}",
        ]
        for index, segment in enumerate(self.segments):
            # The first one has nothing before it to be discontinuous with.
            if segment.discontinuity and index:
                lines.append(_DISCONTINUITY)
            lines += [*segment.tags, segment.name]
        return "\n".join(lines) + "\n"


def parse_playlist(text: str) -> tuple[tuple[str, ...], list[Segment]]:
    """(playlist-level lines, segments in order) of an hlsenc media playlist."""
    header: list[str] = []
    segments: list[Segment] = []
    sequence = 0
    tags: list[str] = []
    discontinuity = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_MEDIA_SEQUENCE):
            value = line.removeprefix(_MEDIA_SEQUENCE)
            sequence = int(value) if value.isascii() and value.isdigit() else 0
        elif line == _DISCONTINUITY:
            discontinuity = True
        elif line.startswith(_PLAYLIST_TAGS):
            header.append(line)
        elif line.startswith("#EXT-X-ENDLIST") or line.startswith("#EXT-X-DISCONTINUITY-"):
            continue  # a live channel has no end; the sequence is restated per answer
        elif line.startswith("#"):
            tags.append(line)
        else:
            segments.append(Segment(sequence, line, tuple(tags), discontinuity))
            sequence += 1
            tags, discontinuity = [], False
    return tuple(header), segments


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def live_playlist(channel_id: int, *, now: float | None = None) -> LivePlaylist | None:
    """The segments of the channel's playlist that are live now, or None: nothing plays."""
    folder = hls_dir(channel_id)
    try:
        text = (folder / PLAYLIST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, listed = parse_playlist(text)
    stopped = _mtime(folder / STOP_MARKER)
    stale = stale_seconds()
    kept: list[Segment] = []
    run_live = False
    for index, segment in enumerate(listed):
        # Only names of CastCore's segments: never a path that leaves the folder.
        written = _mtime(folder / segment.name) if is_hls_segment(segment.name) else None
        if index == 0 or segment.discontinuity:
            # A run (one ffmpeg's segments) is live if it began after the stop; the
            # stopped ffmpeg's last segment, written as it exits, is not.
            run_live = written is not None and (stopped is None or written > stopped)
        if written is None or not run_live:
            kept = []  # gone, or from before the stop: only what follows can be live
            continue
        if kept and written - kept[-1].written > stale:
            kept = []  # an earlier run's
        kept.append(Segment(segment.sequence, segment.name, segment.tags,
                            segment.discontinuity, written))  # fmt: skip
    now = time.time() if now is None else now
    if not kept or now - kept[-1].written > stale:
        return None
    joins = discontinuity_sequence(folder, listed, kept[0].sequence)
    return LivePlaylist(header, tuple(kept), joins)


@dataclass(frozen=True, slots=True)
class _Joins:
    before: int  # joins forgotten: all below every sequence still listed
    joins: frozenset[int]

    def count(self, first: int) -> int:
        return self.before + sum(1 for join in self.joins if join <= first)


def _read_joins(path: Path) -> _Joins:
    try:
        data = json.loads(path.read_text(encoding="ascii"))
        return _Joins(int(data["before"]), frozenset(int(join) for join in data["joins"]))
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return _Joins(0, frozenset())  # none yet (or unreadable): count from here


def _merged(known: _Joins, listed: list[Segment]) -> _Joins:
    """`known` with the joins `listed` shows, those below its oldest segment folded in."""
    oldest, newest = listed[0].sequence, listed[-1].sequence
    joins = set(known.joins) | {segment.sequence for segment in listed if segment.discontinuity}
    if joins and newest < max(joins) - len(listed):
        # The numbering began again (the playlist was removed): so does the count.
        return _Joins(0, frozenset(s.sequence for s in listed if s.discontinuity))
    gone = {join for join in joins if join < oldest}
    return _Joins(known.before + len(gone), frozenset(joins - gone))


def _write_joins(folder: Path, listed: list[Segment]) -> _Joins:
    """Record the joins `listed` shows, under a lock: requests of several web processes
    read the same playlist; the file is replaced whole, so readers need no lock."""
    path = folder / JOINS_FILE
    with (folder / f"{JOINS_FILE}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = _merged(_read_joins(path), listed)
        temporary = folder / f".{JOINS_FILE}.{os.getpid()}"
        temporary.write_text(
            json.dumps({"before": merged.before, "joins": sorted(merged.joins)}), encoding="ascii"
        )
        temporary.replace(path)
    return merged


def discontinuity_sequence(folder: Path, listed: list[Segment], first: int) -> int:
    """EXT-X-DISCONTINUITY-SEQUENCE of a playlist served from sequence `first` on: the
    joins at or before it, those the playlist on disk no longer lists included (as far
    as a request saw them: a playlist is polled more often than a join rolls off)."""
    known = _read_joins(folder / JOINS_FILE)
    merged = _merged(known, listed)
    if merged != known:
        try:
            merged = _write_joins(folder, listed)
        except OSError as exc:
            logger.warning("channel HLS %s: joins not recorded: %s", folder.name, exc.strerror)
    return merged.count(first)


def mark_stopped(channel_id: int) -> None:
    """Note that the channel stopped: its listed segments are no longer live.

    The playlist itself stays, so the next run continues its numbering (segment names
    are never reused for other bytes: they are served as immutable).
    """
    folder = hls_dir(channel_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / STOP_MARKER).write_text(f"{time.time():.3f}\n", encoding="ascii")
    except OSError as exc:
        logger.warning("channel %s: no stop marker: %s", channel_id, exc.strerror)


async def wait_until_live(
    channel_id: int, *, seconds: float, segments: int = 1
) -> LivePlaylist | None:
    """The live playlist, waiting up to `seconds` until it lists `segments` segments (then
    whatever is live: fewer, or None)."""
    deadline = time.monotonic() + seconds
    while True:
        playlist = await asyncio.to_thread(live_playlist, channel_id)
        if playlist is not None and len(playlist.segments) >= segments:
            return playlist
        if time.monotonic() >= deadline:
            return playlist
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def mark_discontinuity(chunk: bytes, marked: set[int]) -> bytes:
    """The chunk with MPEG-TS discontinuity_indicator set on the first packet of each PID
    that carries an adaptation field (not in `marked`, which it fills).

    Where one ffmpeg's segments follow another's, timestamps and continuity counters
    start again: the indicator (ISO/IEC 13818-1, 2.4.3.5) tells the demuxer that this
    is a new time base, not damage. The PCR packet always has an adaptation field.
    """
    data = bytearray(chunk)
    for offset in range(0, len(data) - TS_PACKET + 1, TS_PACKET):
        if data[offset] != TS_SYNC:
            break  # not aligned MPEG-TS: leave it as it is
        pid = ((data[offset + 1] & 0x1F) << 8) | data[offset + 2]
        has_field = (data[offset + 3] >> 4) & 0x2
        if pid in marked or not has_field or data[offset + 4] == 0:
            continue
        data[offset + 5] |= 0x80
        marked.add(pid)
    return bytes(data)


def _open(path: Path) -> BinaryIO | None:
    try:
        return path.open("rb")  # once open, hlsenc deleting it does not matter
    except OSError:
        return None


async def mpegts_stream(
    channel_id: int,
    first: LivePlaylist,
    *,
    still_watching: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """The channel's segments as one MPEG-TS, from near the live edge, as they come.

    Ends when nothing new was written for STREAM_STALL_SECONDS; when the client goes
    away, Django cancels the response and closes this generator (the log says so).
    `still_watching` is awaited after each segment (the viewer rule).
    """
    sent = 0
    last: int | None = None
    join = False  # the next segment does not follow the last one sent
    heard = time.monotonic()
    playlist: LivePlaylist | None = first
    try:
        while True:
            fresh: list[Segment] = []
            if playlist is not None:
                listed = list(playlist.segments)
                if last is None:
                    fresh = listed[-STREAM_START_SEGMENTS:]
                else:
                    fresh = [s for s in listed if s.sequence > last]
                    if not fresh and listed[-1].sequence < last - len(listed):
                        # The numbering began again (the playlist was removed): go live.
                        fresh, join = listed[-STREAM_START_SEGMENTS:], True
            for segment in fresh:
                if last is not None and (segment.discontinuity or segment.sequence != last + 1):
                    join = True
                handle = await asyncio.to_thread(_open, hls_dir(channel_id) / segment.name)
                if handle is None:
                    join = True  # deleted before we got to it: what follows is a jump
                    continue
                marked: set[int] | None = set() if join else None
                with handle:
                    while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                        yield chunk if marked is None else mark_discontinuity(chunk, marked)
                last, join, sent = segment.sequence, False, sent + 1
            if fresh:
                heard = time.monotonic()
                await still_watching()
            elif time.monotonic() - heard > STREAM_STALL_SECONDS:
                logger.info("channel %s: MPEG-TS stream ends, nothing new for %.0f s",
                            channel_id, STREAM_STALL_SECONDS)  # fmt: skip
                return
            await asyncio.sleep(POLL_SECONDS)
            playlist = await asyncio.to_thread(live_playlist, channel_id)
    finally:
        logger.info("channel %s: MPEG-TS stream closed after %d segments", channel_id, sent)
