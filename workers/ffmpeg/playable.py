"""A browser-playable copy of a recording: fragmented MP4, remuxed where the codecs allow.

Recordings are written as Matroska (it survives an abrupt end), which browsers
do not play. The copy keeps the streams as they are when a browser can decode
them (H.264 in 4:2:0, AAC or MP3) and re-encodes only the others, so the
common case is a remux that takes seconds, not an encode as long as the
recording. Fragmented (moov up front, then moof/mdat pairs, mfra index at the
end): a player starts at the first fragment and seeks with range requests,
without the whole file or a moov at its end.

Django-free, like the rest of this package; the recordings app stores the result.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.egress import input_options, tool_log_level
from workers.ffmpeg.probe import (
    LIBRARY_DEMUXERS,
    LOCAL_PROTOCOLS,
    ProbeResult,
    StreamInfo,
    ToolError,
    ffmpeg_input,
)
from workers.ffmpeg.supervisor import ExitInfo, ExitReason, FFmpegProcess

FFMPEG = "ffmpeg"

#: What every current browser decodes inside MP4 (Chromium, Firefox, Safari).
BROWSER_VIDEO_CODECS = frozenset({"h264"})
#: 4:2:0 only: High 4:2:2/4:4:4 and 10-bit H.264 do not play in most browsers.
BROWSER_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
BROWSER_AUDIO_CODECS = frozenset({"aac", "mp3"})

# Fragments start at keyframes; the moov goes first, empty of samples; each
# fragment's offsets are relative to its own moof (what MSE players and
# Chromium's demuxer expect).
FRAGMENTED_MP4_FLAGS = "+frag_keyframe+empty_moov+default_base_moof"


class PlayableErrorCode(StrEnum):
    TIMEOUT = "playable.timeout"
    UNAVAILABLE = "playable.unavailable"  # ffmpeg binary missing
    NO_STREAMS = "playable.no_streams"  # neither video nor audio to play
    FAILED = "playable.failed"
    INTERRUPTED = "playable.interrupted"  # should_stop said so: the work is to be done again


class PlayableError(ToolError):
    """No playable copy could be made; `code` is a `playable.*` code."""

    timeout_code = PlayableErrorCode.TIMEOUT
    unavailable_code = PlayableErrorCode.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class PlayablePlan:
    """Which streams go into the copy, and whether each is copied or re-encoded."""

    video: StreamInfo | None
    audio: StreamInfo | None

    @property
    def copy_video(self) -> bool:
        return self.video is not None and browser_plays_video(self.video)

    @property
    def copy_audio(self) -> bool:
        return self.audio is not None and self.audio.codec in BROWSER_AUDIO_CODECS

    @property
    def remux_only(self) -> bool:
        """Nothing is re-encoded."""
        return (self.video is None or self.copy_video) and (self.audio is None or self.copy_audio)


def browser_plays_video(stream: StreamInfo) -> bool:
    return stream.codec in BROWSER_VIDEO_CODECS and stream.pix_fmt in BROWSER_PIXEL_FORMATS


def plan_playable(info: ProbeResult) -> PlayablePlan:
    """The first real video stream and the first audio stream; other streams are left out."""
    video = info.video_streams[0] if info.video_streams else None
    audio = info.audio_streams[0] if info.audio_streams else None
    if video is None and audio is None:
        raise PlayableError(PlayableErrorCode.NO_STREAMS, "no video or audio stream")
    return PlayablePlan(video=video, audio=audio)


def build_playable_argv(
    source: str | os.PathLike[str],
    output: str,
    plan: PlayablePlan,
    *,
    ffmpeg: str = FFMPEG,
) -> list[str]:
    target = ffmpeg_input(source)
    # -progress: the supervisor's stall watchdog counts its blocks.
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", tool_log_level(target)]
    argv += ["-progress", "pipe:1"]
    argv += input_options(target, LOCAL_PROTOCOLS)
    argv += ["-format_whitelist", ",".join(LIBRARY_DEMUXERS), "-i", target]
    if plan.video is not None:
        argv += ["-map", f"0:{plan.video.index}"]
        if plan.copy_video:
            argv += ["-c:v", "copy"]
        else:
            # Fast enough to keep up with a live recording on one core; yuv420p and
            # even dimensions for the decoders browsers carry.
            argv += [
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                "-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
            ]  # fmt: skip
    if plan.audio is not None:
        argv += ["-map", f"0:{plan.audio.index}"]
        argv += ["-c:a", "copy"] if plan.copy_audio else ["-c:a", "aac", "-b:a", "160k"]
    return [
        *argv,
        "-sn",
        "-dn",
        "-map_metadata",
        "-1",  # titles and tags of the source stay with the source
        "-movflags",
        FRAGMENTED_MP4_FLAGS,
        "-f",
        "mp4",
        "-y",
        "file:" + output,
    ]


def playable_timeout(duration: float | None, *, minimum: float = 120.0) -> float:
    """Room for a re-encode of the whole recording at a third of real time."""
    return max(minimum, 3.0 * (duration or 0.0))


def make_playable(
    source: str | os.PathLike[str],
    dest_path: str | os.PathLike[str],
    *,
    info: ProbeResult,
    timeout: float | None = None,
    stall_timeout: float = 60.0,
    ffmpeg: str = FFMPEG,
    should_stop: Callable[[], bool] = lambda: False,
) -> PlayablePlan:
    """Write the fragmented MP4 copy of `source` (probed as `info`) to `dest_path`.

    The file appears complete or not at all (a temporary file in the same
    folder, renamed at the end). ffmpeg runs under the supervisor: in its own
    process group, killed with the worker that started it (a re-encode can take
    as long as the recording), and killed when it makes no progress for
    `stall_timeout` or runs past `timeout`, or as soon as `should_stop()` (checked
    every second: the worker is stopping) says so. Raises PlayableError (`playable.*`).
    """
    plan = plan_playable(info)
    if should_stop():  # nothing started yet: none of it to undo
        raise PlayableError(PlayableErrorCode.INTERRUPTED, "the worker is stopping")
    dest = Path(dest_path).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    limit = timeout if timeout is not None else playable_timeout(info.duration)
    process = FFmpegProcess(
        build_playable_argv(source, str(tmp), plan, ffmpeg=ffmpeg),
        # The recording itself, and the folder the copy is written to: nothing else.
        confinement=Confinement(read=(os.path.abspath(source),), write=(str(dest.parent),)),
        stall_timeout=stall_timeout,
        stop_grace_seconds=0,
        tail_lines=20,
    )
    try:
        try:
            process.start()
        except FileNotFoundError as exc:  # the binary itself
            raise PlayableError(PlayableErrorCode.UNAVAILABLE, str(exc)) from None
        result = _wait(process, limit, should_stop)
        detail = "\n".join(result.log_tail)
        if result.reason is ExitReason.STALLED:
            raise PlayableError(PlayableErrorCode.TIMEOUT, f"no progress for {stall_timeout} s")
        if result.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise PlayableError(PlayableErrorCode.FAILED, detail or f"exit {result.returncode}")
        os.replace(tmp, dest)
    finally:
        if process.is_running():  # interrupted (the worker is going away): not left behind
            process.kill()
        tmp.unlink(missing_ok=True)
    return plan


def _wait(process: FFmpegProcess, limit: float, should_stop: Callable[[], bool]) -> ExitInfo:
    """ffmpeg's exit, or PlayableError when it runs past `limit` or should stop."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return process.wait(max(0.0, min(1.0, deadline - time.monotonic())))
        except TimeoutError:
            pass
        if should_stop():
            process.kill()
            raise PlayableError(PlayableErrorCode.INTERRUPTED, "the worker is stopping")
        if time.monotonic() >= deadline:
            process.kill()
            raise PlayableError(PlayableErrorCode.TIMEOUT, f"not done in {limit:.0f} s")


__all__ = [
    "BROWSER_AUDIO_CODECS",
    "BROWSER_VIDEO_CODECS",
    "PlayableError",
    "PlayableErrorCode",
    "PlayablePlan",
    "build_playable_argv",
    "make_playable",
    "plan_playable",
    "playable_timeout",
]
