"""A black clip with silence: what a channel airs where its playout has nothing to show.

A channel plays one concat list; every entry must have the same kinds of streams,
so a gap (no filler configured, a slate image, an item in a bucket) is a cut of this
clip instead of a hole in the list. Made once per size and rate, written atomically.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.probe import ToolError, run_tool

FFMPEG = "ffmpeg"
SECONDS = 10.0


class SlateError(ToolError):
    """The black clip could not be made; `code` is a `slate.*` code."""

    timeout_code = "slate.timeout"
    unavailable_code = "slate.unavailable"


def black_clip_argv(
    dest: str, *, width: int, height: int, rate: int, ffmpeg: str = FFMPEG
) -> list[str]:
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi",
        "-i", f"color=c=black:size={width}x{height}:rate={rate}:duration={SECONDS:g}",
        "-f", "lavfi", "-i", f"anullsrc=channel_layout=stereo:sample_rate=48000:d={SECONDS:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(rate),
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", "-f", "mp4", f"file:{dest}",
    ]  # fmt: skip


# MP4: the same clip in Matroska stalled a real-time concat for seconds at each cut.
def black_clip(
    folder: str | os.PathLike[str], *, width: int, height: int, rate: int, ffmpeg: str = FFMPEG
) -> Path:
    """The black clip of this size and rate in `folder`, made if it is not there yet."""
    dest = Path(folder).absolute() / f"black-{width}x{height}-{rate}.mp4"
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    try:
        argv = black_clip_argv(str(tmp), width=width, height=height, rate=rate, ffmpeg=ffmpeg)
        # Reads nothing but lavfi's generators; writes this folder only.
        confinement = Confinement(read=(), write=(str(dest.parent),))
        rc, _, stderr = run_tool(argv, timeout=60, error=SlateError, confinement=confinement)
        if rc != 0 or not tmp.is_file():
            raise SlateError("slate.failed", stderr or f"exit {rc}")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)
