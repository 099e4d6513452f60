"""Which segments of a channel's playlist are live: hlsenc's playlist goes on across runs
(append_list), so a stop, or a gap in writing, leaves an earlier run's segments listed."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from apps.channels.play import live
from apps.channels.play.paths import PLAYLIST, hls_dir

CHANNEL = 41
HEADER = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n"


@pytest.fixture
def folder(tmp_path: Path, settings: Any) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    path = hls_dir(CHANNEL)
    path.mkdir(parents=True)
    return path


def write(
    folder: Path,
    first: int,
    ages: list[float],
    *,
    joins: tuple[int, ...] = (),
    opening: bool = True,
) -> None:
    """A playlist as hlsenc writes it (discont_start's tag in the header included, as at
    sequence 0, unless not `opening`), its segments written `ages` seconds ago; `joins`
    are the sequences after a restart."""
    now = time.time()
    opened = "#EXT-X-DISCONTINUITY\n" if opening else ""
    lines = [HEADER.format(first=first) + opened + "#EXT-X-INDEPENDENT-SEGMENTS\n"]
    for number, age in enumerate(ages, start=first):
        name = f"segment_{number:05d}.ts"
        (folder / name).write_bytes(b"\x47" + bytes(187))
        os.utime(folder / name, (now - age, now - age))
        if number in joins:
            lines.append("#EXT-X-DISCONTINUITY\n")
        lines.append(f"#EXTINF:2.000000,\n{name}\n")
    (folder / PLAYLIST).write_text("".join(lines))


def served(playlist: live.LivePlaylist | None) -> list[int]:
    assert playlist is not None
    return [segment.sequence for segment in playlist.segments]


def test_a_playing_channels_playlist_is_served_whole(folder: Path) -> None:
    write(folder, 20, [11, 9, 7, 5, 3, 1])
    playlist = live.live_playlist(CHANNEL)
    assert served(playlist) == [20, 21, 22, 23, 24, 25]
    text = playlist.text()  # type: ignore[union-attr]
    assert "#EXT-X-MEDIA-SEQUENCE:20\n" in text and "#EXT-X-INDEPENDENT-SEGMENTS" in text
    # Nothing before the first segment to be discontinuous with.
    assert "#EXT-X-DISCONTINUITY\n" not in text


def test_a_stopped_channels_playlist_is_not_live(folder: Path) -> None:
    write(folder, 20, [11, 9, 7, 5, 3, 1])
    live.mark_stopped(CHANNEL)
    assert live.live_playlist(CHANNEL) is None


def test_a_playlist_nothing_was_written_to_lately_is_not_live(folder: Path) -> None:
    stale = live.stale_seconds()
    write(folder, 20, [stale + 12, stale + 10, stale + 8, stale + 6, stale + 4, stale + 2])
    assert live.live_playlist(CHANNEL) is None


def test_after_a_restart_only_the_new_runs_segments_are_served(folder: Path) -> None:
    write(folder, 20, [11, 9, 7, 5, 3, 1])
    live.mark_stopped(CHANNEL)
    # The next run appends to the same playlist, after a join.
    now = time.time()
    os.utime(folder / live.STOP_MARKER, (now - 3, now - 3))
    write(folder, 20, [300, 298, 296, 2.5, 2, 0.5], joins=(24,))
    playlist = live.live_playlist(CHANNEL)
    # 23 is the stopped ffmpeg's last segment, written after the stop: not the new run.
    assert served(playlist) == [24, 25]
    text = playlist.text()  # type: ignore[union-attr]
    assert "#EXT-X-MEDIA-SEQUENCE:24\n" in text and "segment_00023.ts" not in text
    assert "#EXT-X-DISCONTINUITY\n" not in text


def test_the_stopped_ffmpegs_last_segment_is_not_live(folder: Path) -> None:
    # hlsenc writes what it holds as it exits, a moment after the stop was asked for.
    write(folder, 20, [11, 9, 7, 5, 3, 1])
    now = time.time()
    live.mark_stopped(CHANNEL)
    os.utime(folder / live.STOP_MARKER, (now - 2, now - 2))
    assert live.live_playlist(CHANNEL) is None


def test_an_earlier_runs_segments_before_a_gap_are_not_served(folder: Path) -> None:
    # A killed worker's channel resumed by the reconciler: no stop, a long gap.
    write(folder, 7, [90, 88, 86, 3, 1], joins=(10,))
    assert served(live.live_playlist(CHANNEL)) == [10, 11]


def test_a_join_within_the_live_part_stays_marked(folder: Path) -> None:
    # The next window's ffmpeg, a second or two later: the same run for the viewer.
    write(folder, 3, [9, 7, 5, 2, 0.5], joins=(6,))
    playlist = live.live_playlist(CHANNEL)
    assert served(playlist) == [3, 4, 5, 6, 7]
    text = playlist.text()  # type: ignore[union-attr]
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index("segment_00006.ts")
    assert text.index("#EXT-X-DISCONTINUITY\n") > text.index("segment_00005.ts")


def discontinuity_numbers(text: str) -> tuple[int, dict[str, int]]:
    """The served EXT-X-DISCONTINUITY-SEQUENCE, and each segment's discontinuity sequence
    number as a client computes it (RFC 8216, 6.2.2): that value plus the tags before it."""
    (sequence,) = re.findall(r"^#EXT-X-DISCONTINUITY-SEQUENCE:([0-9]+)$", text, re.M)
    number, numbers = int(sequence), {}
    for line in text.splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            number += 1
        elif line and not line.startswith("#"):
            numbers[line] = number
    return int(sequence), numbers


def test_the_discontinuity_sequence_counts_the_joins_that_rolled_off(folder: Path) -> None:
    fresh = [11.0, 9.0, 7.0, 5.0, 3.0, 1.0]
    # hlsenc's window (6 segments) moves on; the next ffmpegs joined at 23, 26 and 33.
    reloads = [
        (20, (23,)), (22, (23, 26)), (24, (26,)), (27, ()), (28, (33,)), (31, (33,)), (34, ()),
    ]  # fmt: skip
    sequences: list[int] = []
    numbers: dict[str, int] = {}
    for first, joins in reloads:
        write(folder, first, fresh, joins=joins, opening=False)
        text = live.live_playlist(CHANNEL).text()  # type: ignore[union-attr]
        sequence, served = discontinuity_numbers(text)
        sequences.append(sequence)
        for name, number in served.items():
            # A segment keeps its number across reloads, whatever rolled off before it.
            assert numbers.setdefault(name, number) == number, (first, name)
    # One more each time a join rolled off the top: 23, then 26, then 33.
    assert sequences == [0, 0, 1, 2, 2, 2, 3]
    assert numbers["segment_00033.ts"] == numbers["segment_00032.ts"] + 1 == 3


def test_the_discontinuity_sequence_counts_a_join_trimmed_from_what_is_served(
    folder: Path,
) -> None:
    # A killed worker's run resumed after a gap: the earlier run is not served, and the
    # new run's first segment, the join, is the first served: no tag, but counted.
    write(folder, 7, [90, 88, 86, 3, 1], joins=(10,), opening=False)
    sequence, served = discontinuity_numbers(live.live_playlist(CHANNEL).text())  # type: ignore[union-attr]
    assert sequence == 1 and served == {"segment_00010.ts": 1, "segment_00011.ts": 1}
    write(folder, 11, [5, 3, 1], opening=False)  # the join rolled off
    sequence, served = discontinuity_numbers(live.live_playlist(CHANNEL).text())  # type: ignore[union-attr]
    assert sequence == 1 and served["segment_00011.ts"] == 1


def test_a_listed_name_outside_the_folder_is_never_served(folder: Path) -> None:
    write(folder, 1, [5, 3, 1])
    text = (folder / PLAYLIST).read_text().replace("segment_00002.ts", "../../secret_key")
    (folder / PLAYLIST).write_text(text)
    assert served(live.live_playlist(CHANNEL)) == [3]


def test_the_discontinuity_indicator_is_set_on_each_pids_first_adaptation_field(
    tmp_path: Path,
) -> None:
    segment = tmp_path / "segment.ts"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=64x36:r=25:d=1",
         "-f", "lavfi", "-i", "sine=d=1", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-f", "mpegts", str(segment)],
        check=True, timeout=60,
    )  # fmt: skip
    data = segment.read_bytes()
    marked: set[int] = set()
    out = live.mark_discontinuity(data, marked)
    assert len(out) == len(data)
    flagged = []
    for offset in range(0, len(out), live.TS_PACKET):
        packet = out[offset : offset + live.TS_PACKET]
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        if (packet[3] >> 4) & 0x2 and packet[4] and packet[5] & 0x80:
            flagged.append(pid)
            assert data[offset + 5] & 0x80 == 0  # set by us, not there before
    # Once per PID that has an adaptation field: the video PID, which carries the PCR.
    assert sorted(flagged) == sorted(marked) and len(flagged) == len(set(flagged))
    assert 256 in marked
    # A demuxer still reads every packet.
    fixed = tmp_path / "marked.ts"
    fixed.write_bytes(out)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
         "-of", "csv=p=0", str(fixed)],
        capture_output=True, check=True, text=True, timeout=30,
    )  # fmt: skip
    original = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
         "-of", "csv=p=0", str(segment)],
        capture_output=True, check=True, text=True, timeout=30,
    )  # fmt: skip
    assert probe.stdout == original.stdout
