"""Dry-run: encode a few seconds of the real input with the real profile into a temp file.

The job's outputs are replaced by one file in a private temp folder, written
with the muxer the first enabled output would use (FLV for RTMP, MPEG-TS for
SRT/UDP/HLS), so nothing is ever published and container errors still show.
The encode runs unpaced (no `-re`), so `speed` is the headroom of this host:
above 1.0 it keeps up with real time. ffmpeg runs under FFmpegProcess (own
process group, dies with us), bounded by a wall-clock timeout; the temp
folder is always removed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.confine import Confinement, confinement_for
from workers.ffmpeg.logs import LogEvent, LogLevel, LogSides
from workers.ffmpeg.preflight import CheckResult, Status, muxer_for
from workers.ffmpeg.preflight.results import result as _check
from workers.ffmpeg.probe import ProbeError, probe, run_bounded
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.spec import Container, FileOutput, JobSpec, VideoCodec
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess

_MUXER_FILES = {"flv": ("flv", Container.FLV), "mpegts": ("ts", Container.MPEGTS)}
_MUXER_FILES.update({"hls": ("ts", Container.MPEGTS), "mp4": ("mp4", Container.MP4)})
_MUXER_FILES.update({"mov": ("mov", Container.MOV), "matroska": ("mkv", Container.MKV)})
MAX_EVENTS = 50
_REPORTED = {LogLevel.WARNING, LogLevel.ERROR, LogLevel.FATAL, LogLevel.PANIC}


@dataclass(frozen=True)
class DryRunOptions:
    seconds: float = 5.0
    timeout_s: float = 90.0  # the whole encode, wall clock
    stall_timeout_s: float = 20.0
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    temp_root: str | None = None  # default: the system temp folder


@dataclass(frozen=True)
class KeyframeStats:
    count: int
    mean_interval_s: float | None
    max_interval_s: float | None


@dataclass
class DryRunResult:
    ok: bool
    exit_reason: str
    returncode: int | None
    seconds_requested: float
    encoded_seconds: float | None = None
    wall_seconds: float = 0.0
    speed: float | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None  # every stream's packets (no container overhead)
    video_bitrate_kbps: float | None = None  # video packets only
    container: str | None = None
    video: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    keyframes: KeyframeStats | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _test_spec(spec: JobSpec, workdir: Path, options: DryRunOptions) -> JobSpec:
    enabled = spec.enabled_outputs
    muxer = muxer_for(enabled[0]) if enabled else "matroska"
    suffix, container = _MUXER_FILES.get(muxer, ("mkv", Container.MKV))
    target = FileOutput(path=str(workdir / f"dryrun.{suffix}"), container=container, name="dry-run")
    return dataclasses.replace(
        spec, outputs=(target,), realtime=False, stall_timeout_s=options.stall_timeout_s
    )


def _limit_duration(argv: list[str], seconds: float) -> list[str]:
    # A single output: its URL is the last element, output options go right before it.
    return [*argv[:-1], "-t", f"{seconds:g}", argv[-1]]


@dataclass(frozen=True)
class PacketStats:
    """What the encoded packets say: keyframe spacing and bitrates (no decoding)."""

    keyframes: KeyframeStats
    video_kbps: float | None
    total_kbps: float | None


class _Span:
    """Bytes and the time span of a group of packets."""

    def __init__(self) -> None:
        self.bytes = 0
        self.first: float | None = None
        self.end: float | None = None

    def add(self, size: int, stamp: float | None, duration: float | None) -> None:
        self.bytes += size
        if stamp is not None:
            end = stamp + (duration or 0.0)
            self.first = stamp if self.first is None else min(self.first, stamp)
            self.end = end if self.end is None else max(self.end, end)

    @property
    def kbps(self) -> float | None:
        if self.first is None or self.end is None or self.end <= self.first:
            return None
        return round(self.bytes * 8 / (self.end - self.first) / 1000, 1)


def packet_stats(path: Path, *, ffprobe: str = "ffprobe", timeout: float = 30.0) -> PacketStats:
    """Keyframes and bitrates from the packets of the file, read in one ffprobe pass.

    Bitrates are the packets' bytes over the time they span (first timestamp to the
    last one plus its duration), not the container's figures: a container's duration
    and overhead (MPEG-TS adds about a fifth) say nothing about what the encoder made.
    JSON, because ffprobe's CSV writes one line per side-data entry as well.
    """
    argv = [ffprobe, "-v", "error", "-protocol_whitelist", "file"]
    entries = (
        "stream=index,codec_type:packet=stream_index,pts_time,dts_time,duration_time,size,flags"
    )
    argv += ["-show_entries", entries]
    argv += ["-of", "json", f"file:{path}"]
    rc, out, _err = run_bounded(argv, timeout=timeout, confinement=Confinement(read=(str(path),)))
    if rc != 0:
        return PacketStats(KeyframeStats(0, None, None), None, None)
    data = json.loads(out or b"{}")
    kinds = {s.get("index"): s.get("codec_type") for s in data.get("streams", [])}
    video = next((index for index, kind in kinds.items() if kind == "video"), None)
    keyframe_times: list[float] = []
    video_span, all_span = _Span(), _Span()
    for packet in data.get("packets", []):
        stamp = _seconds(packet.get("pts_time"))
        stamp = stamp if stamp is not None else _seconds(packet.get("dts_time"))
        size, duration = int(packet.get("size") or 0), _seconds(packet.get("duration_time"))
        all_span.add(size, stamp, duration)
        if packet.get("stream_index") != video:
            continue
        video_span.add(size, stamp, duration)
        if "K" in packet.get("flags", "") and stamp is not None:
            keyframe_times.append(stamp)
    keyframe_times.sort()
    gaps = [b - a for a, b in itertools.pairwise(keyframe_times)]
    keyframes = KeyframeStats(
        len(keyframe_times),
        round(sum(gaps) / len(gaps), 3) if gaps else None,
        round(max(gaps), 3) if gaps else None,
    )
    return PacketStats(keyframes, video_span.kbps if video is not None else None, all_span.kbps)


def _seconds(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # absent, or "N/A"


def run_dry_run(
    spec: JobSpec,
    options: DryRunOptions | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> DryRunResult:
    options = options or DryRunOptions()
    workdir = Path(tempfile.mkdtemp(prefix="castcore-dryrun-", dir=options.temp_root))
    try:
        return _encode_and_measure(spec, options, workdir, on_progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _encode_and_measure(
    spec: JobSpec,
    options: DryRunOptions,
    workdir: Path,
    on_progress: Callable[[Progress], None] | None,
) -> DryRunResult:
    test = _test_spec(spec, workdir, options)
    output = Path(test.outputs[0].path)  # type: ignore[union-attr]
    helpers = workdir / "work"
    argv = _limit_duration(build_argv(test, helpers, ffmpeg=options.ffmpeg), options.seconds)
    events: list[dict[str, Any]] = []

    def on_log(event: LogEvent) -> None:
        if event.level in _REPORTED and len(events) < MAX_EVENTS:
            events.append(
                {
                    "level": event.level.value,
                    "message": event.message[:300],
                    "code": event.hint_code,
                    "hint": event.hint,
                }
            )

    process = FFmpegProcess(
        argv,
        on_progress=on_progress,
        on_log=on_log,
        stall_timeout=test.stall_timeout_s,
        secrets=spec.secrets(),
        cwd=str(workdir),
        confinement=confinement_for(test, workdir),
        sides=LogSides.for_spec(test, helpers),
    )
    started = time.monotonic()
    process.start()
    try:
        exit_info = process.wait(timeout=options.timeout_s)
    except TimeoutError:
        exit_info = process.kill()
        events.append(
            {
                "level": "error",
                "message": "dry-run timed out",
                "code": "dryrun.timeout",
                "hint": f"The encode did not finish within {options.timeout_s:g} s.",
            }
        )
    finally:
        if process.is_running():
            process.kill()
    wall = time.monotonic() - started
    last = process.last_progress
    timed_out = any(e["code"] == "dryrun.timeout" for e in events)
    result = DryRunResult(
        ok=exit_info.reason is ExitReason.COMPLETED and not timed_out and output.exists(),
        exit_reason="timeout" if timed_out else exit_info.reason.value,
        returncode=exit_info.returncode,
        seconds_requested=options.seconds,
        wall_seconds=round(wall, 3),
        errors=events,
    )
    if last is not None and last.frame:
        # ffmpeg's own fps is a rolling figure (0 in its last block); frames/wall is the average.
        result.fps = round(last.frame / max(wall, 1e-6), 1)
    if last is not None and last.out_time_s:
        result.encoded_seconds = round(last.out_time_s, 3)
        result.speed = last.speed or round(last.out_time_s / max(wall, 1e-6), 3)
    if not result.ok:
        return result
    try:
        info = probe(output, formats=None, ffprobe=options.ffprobe)
    except ProbeError as exc:
        result.ok = False
        result.errors.append(
            {"level": "error", "message": exc.code, "code": exc.code, "hint": None}
        )
        return result
    result.container = info.container
    packets = packet_stats(output, ffprobe=options.ffprobe)
    result.bitrate_kbps = packets.total_kbps
    if info.video_streams:
        v = info.video_streams[0]
        result.video = {
            "codec": v.codec,
            "width": v.width,
            "height": v.height,
            "frame_rate": v.frame_rate,
            "pix_fmt": v.pix_fmt,
        }
        result.keyframes = packets.keyframes
        result.video_bitrate_kbps = packets.video_kbps
    if info.audio_streams:
        a = info.audio_streams[0]
        result.audio = {"codec": a.codec, "sample_rate": a.sample_rate, "channels": a.channels}
    return result


def dry_run_checks(spec: JobSpec, result: DryRunResult) -> list[CheckResult]:
    """The result as report checks: encode, speed, keyframes, log errors."""
    checks: list[CheckResult] = []
    codes = [e["code"] for e in result.errors if e["code"]]
    if not result.ok:
        checks.append(
            _check(
                "dry_run.encode",
                Status.RED,
                "dry_run.encode_failed",
                "The test encode failed; see the errors for FFmpeg's reason.",
                exit_reason=result.exit_reason,
                returncode=result.returncode,
                hint_codes=codes[:5],
            )
        )
        return checks
    checks.append(
        _check(
            "dry_run.encode",
            Status.GREEN,
            "dry_run.encode_ok",
            f"Encoded {result.encoded_seconds or 0:g} s in {result.wall_seconds:g} s.",
            encoded_seconds=result.encoded_seconds,
            wall_seconds=result.wall_seconds,
        )
    )
    speed = result.speed or 0.0
    checks.append(
        _check(
            "dry_run.speed",
            Status.GREEN if speed >= 1.0 else Status.YELLOW,
            "dry_run.speed_ok" if speed >= 1.0 else "dry_run.too_slow",
            f"Encoding runs at {speed:.2f}x real time"
            + ("." if speed >= 1.0 else "; the stream will fall behind and buffer."),
            speed=speed,
            fps=result.fps,
        )
    )
    target = spec.profile.keyframe_interval_s
    stats = result.keyframes
    if spec.profile.video_codec is not VideoCodec.COPY and target and stats is not None:
        mean, worst = stats.mean_interval_s, stats.max_interval_s
        fits = mean is not None and worst is not None and abs(mean - target) <= 0.1 * target
        fits = fits and worst is not None and worst <= target * 1.25
        checks.append(
            _check(
                "dry_run.keyframes",
                Status.GREEN if fits else Status.YELLOW,
                "dry_run.keyframe_interval_ok" if fits else "dry_run.keyframe_interval_mismatch",
                f"Keyframes every {mean if mean is not None else '?'} s (profile: {target:g} s).",
                expected_s=target,
                mean_interval_s=mean,
                max_interval_s=worst,
                count=stats.count,
            )
        )
    if result.errors:
        checks.append(
            _check(
                "dry_run.log",
                Status.YELLOW,
                "dry_run.log_warnings",
                f"FFmpeg reported {len(result.errors)} warnings or errors.",
                count=len(result.errors),
                hint_codes=codes[:5],
            )
        )
    return checks
