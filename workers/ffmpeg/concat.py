"""Join recording files end to end, streams copied: ffmpeg's concat demuxer.

A live session whose publisher dropped and came back is recorded in several process
segments (one Matroska file each, same encoder settings); they are joined into one
file so that the session has one recording. Stream copy: seconds, not an encode.

Django-free, like the rest of this package; the recordings app stores the result.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.probe import ToolError
from workers.ffmpeg.supervisor import FFmpegProcess

FFMPEG = "ffmpeg"


class JoinError(ToolError):
    """The parts could not be joined; `code` is a `join.*` code."""

    timeout_code = "join.timeout"
    unavailable_code = "join.unavailable"


def _quoted(path: str) -> str:
    # The concat list's quoting: inside '...', a quote is written '\''.
    return "'" + path.replace("'", "'\\''") + "'"


def build_join_argv(listing: str, output: str, *, ffmpeg: str = FFMPEG) -> list[str]:
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error",
        "-progress", "pipe:1",
        # The list names absolute paths (-safe 0); only local files are opened from it.
        "-protocol_whitelist", "file", "-f", "concat", "-safe", "0", "-i", "file:" + listing,
        "-map", "0", "-c", "copy", "-f", "matroska", "-y", "file:" + output,
    ]  # fmt: skip


def join_files(
    parts: Sequence[str | os.PathLike[str]],
    dest_path: str | os.PathLike[str],
    *,
    timeout: float = 600.0,
    ffmpeg: str = FFMPEG,
) -> None:
    """Write `parts`, one after the other, to `dest_path` (Matroska, streams copied).

    The file appears complete or not at all (a temporary file in the same folder,
    renamed at the end). ffmpeg runs confined to the parts (read) and the destination's
    folder (write), under the supervisor (own process group, killed on a stall or past
    `timeout`). Raises JoinError.
    """
    dest = Path(dest_path).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    sources = [os.path.abspath(part) for part in parts]
    stem = f".{dest.name}.{uuid.uuid4().hex}"
    listing, tmp = dest.parent / f"{stem}.txt", dest.parent / f"{stem}.tmp"
    listing.write_text("".join(f"file {_quoted(source)}\n" for source in sources))
    process = FFmpegProcess(
        build_join_argv(str(listing), str(tmp), ffmpeg=ffmpeg),
        confinement=Confinement(read=tuple(sources), write=(str(dest.parent),)),
        stall_timeout=60.0,
        stop_grace_seconds=0,
        tail_lines=20,
    )
    try:
        try:
            process.start()
        except FileNotFoundError as exc:
            raise JoinError("join.unavailable", str(exc)) from None
        try:
            result = process.wait(timeout)
        except TimeoutError:
            raise JoinError("join.timeout", f"not done in {timeout:.0f} s") from None
        if result.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            detail = "\n".join(result.log_tail)
            raise JoinError("join.failed", detail or f"exit {result.returncode}")
        os.replace(tmp, dest)
    finally:
        if process.is_running():
            process.kill()
        tmp.unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
