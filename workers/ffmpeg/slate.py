"""Clips with silence a channel airs where its playout has no video file to show: black
(a gap, no filler configured) or a slate image looped.

A channel plays one concat list; every entry must have the same kinds of streams,
so a gap or a slate is a cut of such a clip instead of a hole in the list. Each is
made once per size and rate (and image), written atomically.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.probe import ToolError, run_tool

FFMPEG = "ffmpeg"
SECONDS = 10.0


class SlateError(ToolError):
    """The black clip could not be made; `code` is a `slate.*` code."""

    timeout_code = "slate.timeout"
    unavailable_code = "slate.unavailable"


def _clip_output(dest: str, *, rate: int, video_filter: str = "") -> list[str]:
    """Silence as the second input, then the clip's encoding (the same for every clip)."""
    return [
        "-f", "lavfi", "-i", f"anullsrc=channel_layout=stereo:sample_rate=48000:d={SECONDS:g}",
        *(["-vf", video_filter] if video_filter else []), "-t", f"{SECONDS:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(rate),
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", "-f", "mp4", f"file:{dest}",
    ]  # fmt: skip


def black_clip_argv(
    dest: str, *, width: int, height: int, rate: int, ffmpeg: str = FFMPEG
) -> list[str]:
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi",
        "-i", f"color=c=black:size={width}x{height}:rate={rate}:duration={SECONDS:g}",
        *_clip_output(dest, rate=rate),
    ]  # fmt: skip


def slate_clip_argv(
    dest: str, image: str, *, width: int, height: int, rate: int, ffmpeg: str = FFMPEG
) -> list[str]:
    """The image fitted into the frame (letterboxed in black), held for the clip."""
    fit = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
        "-loop", "1", "-framerate", str(rate), "-i", f"file:{image}",
        *_clip_output(dest, rate=rate, video_filter=fit),
    ]  # fmt: skip


# MP4: the same clip in Matroska stalled a real-time concat for seconds at each cut.
def black_clip(
    folder: str | os.PathLike[str], *, width: int, height: int, rate: int, ffmpeg: str = FFMPEG
) -> Path:
    """The black clip of this size and rate in `folder`, made if it is not there yet."""
    dest = Path(folder).absolute() / f"black-{width}x{height}-{rate}.mp4"
    # Reads nothing but lavfi's generators.
    return _made(
        dest,
        lambda tmp: black_clip_argv(tmp, width=width, height=height, rate=rate, ffmpeg=ffmpeg),
        read=(),
    )


def slate_clip(
    folder: str | os.PathLike[str],
    image: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    rate: int,
    ffmpeg: str = FFMPEG,
) -> Path:
    """The slate `image` looped as a clip of this size and rate in `folder`.

    Named after the image's path, size and modification time: a replaced image makes
    a new clip rather than airing the old one.
    """
    source = Path(image).absolute()
    try:
        info = source.stat()
    except OSError:
        raise SlateError("slate.image_missing", str(source.name)) from None
    tag = hashlib.sha256(f"{source}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:16]
    dest = Path(folder).absolute() / f"slate-{tag}-{width}x{height}-{rate}.mp4"
    return _made(
        dest,
        lambda tmp: slate_clip_argv(
            tmp, str(source), width=width, height=height, rate=rate, ffmpeg=ffmpeg
        ),
        read=(str(source),),
    )


def _made(dest: Path, argv_for: Callable[[str], list[str]], *, read: tuple[str, ...]) -> Path:
    """`dest`, made by the ffmpeg `argv_for(temporary name)` runs, then renamed."""
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    try:
        # Reads its inputs only; writes this folder only.
        confinement = Confinement(read=read, write=(str(dest.parent),))
        argv = argv_for(str(tmp))
        rc, _, stderr = run_tool(argv, timeout=60, error=SlateError, confinement=confinement)
        if rc != 0 or not tmp.is_file():
            raise SlateError("slate.failed", stderr or f"exit {rc}")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)
