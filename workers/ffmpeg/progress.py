"""Parse ffmpeg's `-progress pipe:1` output into typed Progress blocks.

ffmpeg writes `key=value` lines and ends each block with `progress=continue`
(or `progress=end` for the last one). Any value may be `N/A` before the first
packet is written; those become None instead of errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    frame: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    total_size_bytes: int | None = None
    out_time_us: int | None = None
    dup_frames: int | None = None
    drop_frames: int | None = None
    speed: float | None = None  # 1.0 means real time
    ended: bool = False  # progress=end: ffmpeg is finishing
    extra: dict[str, str] = field(default_factory=dict)  # per-stream keys like stream_0_0_q

    @property
    def out_time_s(self) -> float | None:
        return None if self.out_time_us is None else self.out_time_us / 1_000_000


_NUMBER = re.compile(r"^-?\d+(\.\d+)?")
_CLOCK = re.compile(r"^(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


def _number(value: str | None) -> float | None:
    # Values come as "N/A", " 1.5x", "2500.3kbits/s"; the leading number is what counts.
    if value is None:
        return None
    match = _NUMBER.match(value.strip())
    return float(match.group(0)) if match else None


def _integer(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _clock_us(value: str | None) -> int | None:
    match = _CLOCK.match((value or "").strip())
    if not match:
        return None
    sign, hours, minutes, seconds, fraction = match.groups()
    micros = int((fraction or "0").ljust(6, "0"))
    total = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000 + micros
    return -total if sign else total


def progress_from_fields(fields: dict[str, str]) -> Progress:
    known = {
        "frame",
        "fps",
        "bitrate",
        "total_size",
        "out_time_us",
        "out_time_ms",
        "out_time",
        "dup_frames",
        "drop_frames",
        "speed",
        "progress",
    }
    # out_time_ms is microseconds too (a long-standing ffmpeg quirk); prefer out_time_us.
    out_time = _integer(fields.get("out_time_us"))
    if out_time is None:
        out_time = _integer(fields.get("out_time_ms"))
    if out_time is None:
        out_time = _clock_us(fields.get("out_time"))
    return Progress(
        frame=_integer(fields.get("frame")),
        fps=_number(fields.get("fps")),
        bitrate_kbps=_number(fields.get("bitrate")),
        total_size_bytes=_integer(fields.get("total_size")),
        out_time_us=out_time,
        dup_frames=_integer(fields.get("dup_frames")),
        drop_frames=_integer(fields.get("drop_frames")),
        speed=_number(fields.get("speed")),
        ended=fields.get("progress", "").strip() == "end",
        extra={k: v for k, v in fields.items() if k not in known},
    )


class ProgressParser:
    """Incremental parser: feed lines as they arrive, get each completed block once."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed_line(self, line: str) -> Progress | None:
        line = line.strip()
        key, sep, value = line.partition("=")
        if not sep or not key:
            return None  # blank or foreign line: ignore rather than fail the job
        self._fields[key.strip()] = value.strip()
        if key.strip() != "progress":
            return None
        block, self._fields = self._fields, {}
        return progress_from_fields(block)

    def feed(self, lines: Iterable[str]) -> Iterator[Progress]:
        for line in lines:
            block = self.feed_line(line)
            if block is not None:
                yield block


def parse_progress(text: str) -> list[Progress]:
    return list(ProgressParser().feed(text.splitlines()))
