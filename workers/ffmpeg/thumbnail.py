"""Grab one JPEG frame from a media file, written atomically.

The caller (the thumbnail endpoint's service) caches the result; this module
only makes the file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.egress import REFUSED_REASON, input_options, tool_log_level
from workers.ffmpeg.probe import (
    LIBRARY_DEMUXERS,
    LOCAL_PROTOCOLS,
    REMOTE_PROTOCOLS,
    ToolError,
    ffmpeg_input,
    is_url,
    run_tool,
)

FFMPEG = "ffmpeg"


class ThumbnailErrorCode(StrEnum):
    TIMEOUT = "thumbnail.timeout"
    NOT_FOUND = "thumbnail.not_found"
    NO_VIDEO = "thumbnail.no_video"
    NO_FRAME = "thumbnail.no_frame"
    UNAVAILABLE = "thumbnail.unavailable"  # ffmpeg binary missing
    ADDRESS_NOT_ALLOWED = "thumbnail.address_not_allowed"  # the egress proxy refused it
    FAILED = "thumbnail.failed"


class ThumbnailError(ToolError):
    """No thumbnail could be made; `code` is a `thumbnail.*` code."""

    timeout_code = ThumbnailErrorCode.TIMEOUT
    unavailable_code = ThumbnailErrorCode.UNAVAILABLE


def seek_position(duration: float | None, fraction: float = 0.1) -> float:
    """~10% in: past black intro frames, still early enough to be cheap."""
    if not duration or duration <= 0:
        return 0.0
    return round(max(0.0, duration * fraction), 3)


def build_thumbnail_argv(
    source: str | os.PathLike[str],
    output: str,
    *,
    position: float,
    width: int,
    protocols: Sequence[str],
    formats: Sequence[str] | None = LIBRARY_DEMUXERS,
    ffmpeg: str = FFMPEG,
) -> list[str]:
    target = ffmpeg_input(source)
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-v", tool_log_level(target)]
    argv += input_options(target, protocols)
    if formats:
        argv += ["-format_whitelist", ",".join(formats)]
    return [
        *argv,
        # -ss before -i: seek on the demuxer (keyframe index), not by decoding
        # everything up to the position.
        "-ss",
        f"{position:.3f}",
        "-i",
        target,
        "-map",
        "0:V:0",  # first real video stream, not cover art
        "-frames:v",
        "1",
        # Never upscale; -2 keeps the aspect ratio with an even height.
        "-vf",
        f"scale='min({width},iw)':-2",
        "-an",
        "-sn",
        "-dn",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        # -update 1: the output is one file, not an image2 pattern, so a `%`
        # in the path is not a sequence number.
        "-f",
        "image2",
        "-update",
        "1",
        "-y",
        "file:" + output,
    ]


def make_thumbnail(
    source: str | os.PathLike[str],
    dest_path: str | os.PathLike[str],
    *,
    duration: float | None,
    width: int = 320,
    timeout: float = 30.0,
    protocols: Sequence[str] | None = None,
    formats: Sequence[str] | None = LIBRARY_DEMUXERS,
    ffmpeg: str = FFMPEG,
) -> Path:
    """Write a JPEG of one frame ~10% into `source` to `dest_path`.

    The file appears complete or not at all (temp file in the same folder,
    then rename), so a concurrent reader never serves half a JPEG.
    Raises ThumbnailError with a `thumbnail.*` code.
    """
    if width < 16:
        raise ValueError("width must be at least 16 pixels")
    if not is_url(source) and not os.path.isfile(source):
        raise ThumbnailError(ThumbnailErrorCode.NOT_FOUND, os.fspath(source))
    allowed = (
        tuple(protocols)
        if protocols is not None
        else (REMOTE_PROTOCOLS if is_url(source) else LOCAL_PROTOCOLS)
    )
    dest = Path(dest_path).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    # The source file (none for a URL) and the folder of the thumbnail, nothing else.
    reads = () if is_url(source) else (os.path.abspath(source),)
    confinement = Confinement(read=reads, write=(str(dest.parent),))
    try:
        # If 10% lands past the last keyframe of a tiny file, ffmpeg succeeds
        # with no frame; the start of the file is the honest fallback.
        positions = [seek_position(duration)]
        if positions[0] > 0:
            positions.append(0.0)
        for position in positions:
            argv = build_thumbnail_argv(
                source,
                str(tmp),
                position=position,
                width=width,
                protocols=allowed,
                formats=formats,
                ffmpeg=ffmpeg,
            )
            rc, _, stderr = run_tool(
                argv, timeout=timeout, error=ThumbnailError, confinement=confinement
            )
            if rc != 0:
                if REFUSED_REASON in stderr:
                    raise ThumbnailError(ThumbnailErrorCode.ADDRESS_NOT_ALLOWED, stderr)
                if "matches no streams" in stderr:
                    raise ThumbnailError(ThumbnailErrorCode.NO_VIDEO, stderr)
                raise ThumbnailError(ThumbnailErrorCode.FAILED, stderr or f"exit {rc}")
            if tmp.exists() and tmp.stat().st_size > 0:
                os.replace(tmp, dest)
                return dest
        raise ThumbnailError(ThumbnailErrorCode.NO_FRAME, "no frame could be decoded")
    finally:
        tmp.unlink(missing_ok=True)


__all__ = [
    "ThumbnailError",
    "ThumbnailErrorCode",
    "build_thumbnail_argv",
    "make_thumbnail",
    "seek_position",
]
