"""Real media and real HLS for the channel-playing tests.

Clips are solid colours with a tone, so the colour of any frame of the channel's
output tells which item was on the air; segments are collected with the wall-clock
time they appeared, since ffmpeg deletes them once they leave the playlist.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from django.utils import timezone

from apps.channels.models import Channel, PlayoutRow
from apps.media.models import MediaItem
from apps.media.scanning import media_scan_run, media_scan_start
from apps.media.tests.factories import make_source
from apps.streams.tests.factories import new_profile

COLOURS = {
    "red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "black": (0, 0, 0),  # what a gap would show
}  # fmt: skip


def make_colour_clip(path: Path, colour: str, seconds: float) -> Path:
    """A clip of one colour and a tone, a keyframe every second (inpoints land on one)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r=25:d={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-ac", "2", "-shortest", f"file:{path}"],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def colour_library(root: Path, clips: dict[str, float]) -> dict[str, MediaItem]:
    """Clips named after their colour, scanned by the media library (durations by ffprobe)."""
    root.mkdir(parents=True, exist_ok=True)
    for colour, seconds in clips.items():
        make_colour_clip(root / f"{colour}.mp4", colour, seconds)
    source = make_source(name=f"colours {root.name}", path=str(root))
    scan = media_scan_start(source=source, dispatch=False)
    media_scan_run(scan_id=scan.pk)
    return {
        item.relpath.removesuffix(".mp4"): item for item in MediaItem.objects.filter(source=source)
    }


def playing_channel(**fields: Any) -> Channel:
    profile = new_profile(
        width=160, height=90, fps=25, video_bitrate_kbps=200, keyframe_interval_s=1.0
    )
    defaults: dict[str, Any] = {
        "number": 7, "name": "Colours", "slug": "colours", "output_profile": profile
    }  # fmt: skip
    return Channel.objects.create(**{**defaults, **fields})


def air(
    channel: Channel, start: datetime, items: list[tuple[MediaItem, float]]
) -> list[PlayoutRow]:
    """Rows back to back from `start`: each item for its seconds, from its beginning."""
    rows = []
    for item, seconds in items:
        end = start + timedelta(seconds=seconds)
        rows.append(
            PlayoutRow.objects.create(
                channel=channel, start=start, end=end, media_item=item, title=item.name
            )
        )
        start = end
    return rows


def scheduled_at(rows: list[PlayoutRow], at: datetime) -> str | None:
    for row in rows:
        if row.start <= at < row.end:
            return cast(MediaItem, row.media_item).relpath.removesuffix(".mp4")
    return None


@dataclass
class Segment:
    path: Path
    seen_at: datetime  # when it first appeared (ffmpeg writes it once it is complete)
    duration: float = 0.0
    # Listed after an EXT-X-DISCONTINUITY: the first segment of another ffmpeg.
    discontinuity: bool = False


@dataclass
class SegmentCollector:
    """Copies every segment of an HLS folder as it appears, with the time it did."""

    folder: Path
    keep: Path
    segments: list[Segment] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.keep.mkdir(parents=True, exist_ok=True)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        seen: set[str] = set()
        while not self.stopped.is_set():
            listed = self._listed()
            for name, discontinuity in listed:
                if name in seen:
                    continue
                source = self.folder / name
                copy = self.keep / name
                try:
                    shutil.copyfile(source, copy)
                except OSError:
                    continue
                seen.add(name)
                self.segments.append(Segment(copy, timezone.now(), discontinuity=discontinuity))
            time.sleep(0.05)

    def _listed(self) -> list[tuple[str, bool]]:
        """The segments the playlist lists, each with whether a discontinuity precedes it."""
        try:
            text = (self.folder / "index.m3u8").read_text()
        except OSError:
            return []
        listed, discontinuity = [], False
        for line in text.splitlines():
            if line == "#EXT-X-DISCONTINUITY":
                discontinuity = True
            elif line and not line.startswith("#"):
                listed.append((line, discontinuity))
                discontinuity = False
        return listed

    def stop(self) -> list[Segment]:
        self.stopped.set()
        self.thread.join(5)
        for segment in self.segments:
            segment.duration = float(probe(segment.path, "format=duration")["format"]["duration"])
        return self.segments


def probe(path: Path, entries: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True, check=True, timeout=30, text=True,
    )  # fmt: skip
    return cast(dict[str, Any], json.loads(out.stdout))


def packet_times(segments: list[Segment], stream: str) -> list[float]:
    """Presentation times of every packet of `stream` (v:0 or a:0), segment by segment."""
    times: list[float] = []
    for segment in segments:
        packets = probe(segment.path, "packet=pts_time", "-select_streams", stream)["packets"]
        times += [float(p["pts_time"]) for p in packets if p.get("pts_time") not in (None, "N/A")]
    return times


def colours_of(path: Path, step: float) -> list[str]:
    """The named colour nearest to each frame of the file, one every `step` seconds."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path),
         "-vf", f"fps={1 / step:g}:round=down,scale=1:1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    pixels = [tuple(out.stdout[i : i + 3]) for i in range(0, len(out.stdout) - 2, 3)]
    return [
        min(
            COLOURS,
            key=lambda name: sum((a - b) ** 2 for a, b in zip(COLOURS[name], pixel, strict=True)),
        )
        for pixel in pixels
    ]


def colour_changes(segments: list[Segment], step: float = 0.2) -> list[tuple[str, datetime]]:
    """Each colour the output showed and the wall-clock time it began, sampled every `step`.

    A segment is complete when it appears; its content ran (in real time) over the
    `duration` before that, so a frame `t` into it aired at `seen_at - duration + t`.
    """
    changes: list[tuple[str, datetime]] = []
    for segment in segments:
        for index, colour in enumerate(colours_of(segment.path, step)):
            if not changes or changes[-1][0] != colour:
                aired = segment.seen_at - timedelta(seconds=segment.duration - index * step)
                changes.append((colour, aired))
    return changes
