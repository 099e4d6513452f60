"""Run ffprobe on one file or URL and turn its JSON into typed results.

Django-free on purpose: scans, asset validation and preflight all call
`probe()` from worker threads, and the caller decides what to store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

from workers.ffmpeg.confine import SYSTEM_ONLY, Confinement, resolved_argv, start_confined
from workers.ffmpeg.egress import REFUSED_REASON, child_env, input_options, tool_log_level

FFPROBE = "ffprobe"

#: Local files only: no network, no other protocol a crafted file could name.
LOCAL_PROTOCOLS: tuple[str, ...] = ("file",)
#: Presigned object-store URLs (S3 and the like).
REMOTE_PROTOCOLS: tuple[str, ...] = ("http", "https", "tls", "tcp", "crypto")

#: Demuxers a media library may use. Anything else (hls, concat, image2,
#: tty, ...) is refused by ffprobe itself: those formats can reference other
#: files or read arbitrary text, which a library file must never do.
LIBRARY_DEMUXERS: tuple[str, ...] = (
    "mov",  # mp4, m4v, m4a, mov, 3gp
    "matroska",  # mkv, webm
    "mpegts",
    "avi",
    "flv",
    "asf",
    "mpeg",
    "mxf",
    "mp3",
    "aac",
    "wav",
    "flac",
    "ogg",
)

_URL_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")
_DETAIL_LIMIT = 500


class ProbeErrorCode(StrEnum):
    TIMEOUT = "probe.timeout"
    INVALID_DATA = "probe.invalid_data"
    NOT_FOUND = "probe.not_found"
    EMPTY = "probe.empty"
    NOT_REGULAR_FILE = "probe.not_regular_file"
    NO_STREAMS = "probe.no_streams"
    PERMISSION_DENIED = "probe.permission_denied"
    PROTOCOL_NOT_ALLOWED = "probe.protocol_not_allowed"
    ADDRESS_NOT_ALLOWED = "probe.address_not_allowed"  # the egress proxy refused a connection
    FORMAT_NOT_ALLOWED = "probe.format_not_allowed"
    UNAVAILABLE = "probe.unavailable"  # ffprobe binary missing
    FAILED = "probe.failed"


class ToolError(Exception):
    """A failed ffprobe/ffmpeg run; `code` is the API contract.

    The detail keeps the tail of the tool's output, where ffmpeg puts the reason.
    Subclasses name the codes `run_tool` uses for a timeout and a missing binary.
    """

    timeout_code: str = "tool.timeout"
    unavailable_code: str = "tool.unavailable"

    def __init__(self, code: StrEnum | str, detail: str = "") -> None:
        self.code = str(code)
        self.detail = detail[-_DETAIL_LIMIT:]
        super().__init__(f"{self.code}: {self.detail}" if detail else self.code)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


class ProbeError(ToolError):
    """A probe that did not produce a usable result."""

    timeout_code = ProbeErrorCode.TIMEOUT
    unavailable_code = ProbeErrorCode.UNAVAILABLE


class StreamType(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"
    DATA = "data"  # also attachments and anything ffprobe adds later


@dataclass(frozen=True, slots=True)
class StreamInfo:
    index: int
    type: StreamType
    codec: str | None = None
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    pix_fmt: str | None = None
    channels: int | None = None
    sample_rate: int | None = None
    language: str | None = None
    # Cover art in mp3/m4a shows up as a one-frame "video" stream.
    attached_pic: bool = False
    # bit/s as the container declares it (an FLV's onMetaData: what the encoder says it sends).
    bit_rate: int | None = None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    container: str
    duration: float | None
    bitrate: int | None
    size: int | None
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    # The container's descriptive tags the guide reads (GUIDE_TAGS), keys lowercased.
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def video_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.type is StreamType.VIDEO and not s.attached_pic)

    @property
    def audio_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.type is StreamType.AUDIO)

    @property
    def has_video(self) -> bool:
        return bool(self.video_streams)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, e.g. for a JSONField."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeResult:
        streams = tuple(
            StreamInfo(**{**s, "type": StreamType(s["type"])}) for s in data.get("streams", ())
        )
        return cls(
            container=data["container"],
            duration=data.get("duration"),
            bitrate=data.get("bitrate"),
            size=data.get("size"),
            streams=streams,
            tags=dict(data.get("tags") or {}),
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and result >= 0 else None  # drops NaN


def parse_frame_rate(value: str | None) -> float | None:
    """'30000/1001' -> 29.97; '0/0' and junk -> None."""
    if not value:
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def _language(tags: Mapping[str, Any]) -> str | None:
    for key, value in tags.items():
        if key.lower() == "language" and isinstance(value, str):
            # "und" is ffmpeg's placeholder for "not set".
            return None if value.lower() in ("", "und") else value
    return None


def _stream(raw: Mapping[str, Any]) -> StreamInfo:
    kind = raw.get("codec_type")
    stype = StreamType(kind) if kind in ("video", "audio", "subtitle") else StreamType.DATA
    profile = raw.get("profile")
    is_video = stype is StreamType.VIDEO
    is_audio = stype is StreamType.AUDIO
    # avg_frame_rate is the real cadence; r_frame_rate is a fallback for
    # streams (raw, some ts) where the average is unknown ("0/0").
    rate = parse_frame_rate(raw.get("avg_frame_rate")) or parse_frame_rate(raw.get("r_frame_rate"))
    return StreamInfo(
        index=int(raw.get("index", 0)),
        type=stype,
        codec=raw.get("codec_name"),
        # ffprobe prints "unknown" (or a number) when the codec has no profile.
        profile=profile if isinstance(profile, str) and profile != "unknown" else None,
        width=_int(raw.get("width")) if is_video else None,
        height=_int(raw.get("height")) if is_video else None,
        frame_rate=rate if is_video else None,
        pix_fmt=raw.get("pix_fmt") if is_video else None,
        channels=_int(raw.get("channels")) if is_audio else None,
        sample_rate=_int(raw.get("sample_rate")) if is_audio else None,
        language=_language(raw.get("tags") or {}),
        attached_pic=bool((raw.get("disposition") or {}).get("attached_pic")),
        bit_rate=_int(raw.get("bit_rate")),
    )


#: Container tags kept for the guide (title, description, category, episode numbers);
#: the rest (encoder, creation_time…) is not kept.
GUIDE_TAGS = frozenset(
    {"title", "description", "synopsis", "comment", "genre", "show", "season_number",
     "episode_sort", "episode_id"}
)  # fmt: skip
#: A tag longer than this is cut: the probe is stored on every media item.
TAG_MAX_CHARS = 2000


def _guide_tags(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    found: dict[str, str] = {}
    for key, value in raw.items():
        name = str(key).lower()
        if name in GUIDE_TAGS and isinstance(value, str | int | float) and str(value).strip():
            found.setdefault(name, str(value).strip()[:TAG_MAX_CHARS])
    return found


def parse_probe_output(data: Mapping[str, Any]) -> ProbeResult:
    """Turn ffprobe's `-show_format -show_streams -of json` output into a result."""
    fmt = data.get("format") or {}
    streams = tuple(_stream(s) for s in data.get("streams") or ())
    if not streams:
        raise ProbeError(ProbeErrorCode.NO_STREAMS, "no audio, video or other streams")
    return ProbeResult(
        container=str(fmt.get("format_name") or "unknown"),
        duration=_float(fmt.get("duration")),
        bitrate=_int(fmt.get("bit_rate")),
        size=_int(fmt.get("size")),
        streams=streams,
        tags=_guide_tags(fmt.get("tags")),
    )


def is_url(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and _URL_RE.match(target) is not None


def ffmpeg_input(target: str | os.PathLike[str]) -> str:
    """The input argument for ffmpeg/ffprobe.

    Local paths become `file:/absolute/path`: the prefix stops ffmpeg reading
    `-rf.mp4` as an option or `a:b.mp4` as protocol `a`, and the file
    protocol takes the rest verbatim (spaces, quotes, unicode, `?`, `#`).
    """
    if is_url(target):
        return str(target)
    return "file:" + os.path.abspath(os.fspath(target))


def build_probe_argv(
    target: str | os.PathLike[str],
    *,
    protocols: Sequence[str],
    formats: Sequence[str] | None = LIBRARY_DEMUXERS,
    ffprobe: str = FFPROBE,
) -> list[str]:
    source = ffmpeg_input(target)
    argv = [ffprobe, "-v", tool_log_level(source), "-hide_banner"]
    argv += input_options(source, protocols)
    if formats:
        argv += ["-format_whitelist", ",".join(formats)]
    argv += ["-show_format", "-show_streams", "-of", "json", "-i", source]
    return argv


def _classify(stderr: str) -> ProbeErrorCode:
    if REFUSED_REASON in stderr:
        return ProbeErrorCode.ADDRESS_NOT_ALLOWED
    text = stderr.lower()
    if "no such file or directory" in text:
        return ProbeErrorCode.NOT_FOUND
    if "permission denied" in text or "operation not permitted" in text:
        return ProbeErrorCode.PERMISSION_DENIED
    if "not on whitelist" in text and "protocol" in text:
        return ProbeErrorCode.PROTOCOL_NOT_ALLOWED
    if "format not on whitelist" in text:
        return ProbeErrorCode.FORMAT_NOT_ALLOWED
    if "invalid data found" in text or "moov atom not found" in text:
        return ProbeErrorCode.INVALID_DATA
    return ProbeErrorCode.FAILED


def _check_local(path: str) -> None:
    """Fail fast with a precise code; also refuse FIFOs and devices, which
    would block ffprobe or feed it endless data."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise ProbeError(ProbeErrorCode.NOT_FOUND, path) from exc
    except PermissionError as exc:
        raise ProbeError(ProbeErrorCode.PERMISSION_DENIED, path) from exc
    except OSError as exc:
        raise ProbeError(ProbeErrorCode.FAILED, f"{path}: {exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise ProbeError(ProbeErrorCode.NOT_REGULAR_FILE, path)
    if st.st_size == 0:
        raise ProbeError(ProbeErrorCode.EMPTY, path)


def run_bounded(
    argv: Sequence[str], *, timeout: float, confinement: Confinement = SYSTEM_ONLY
) -> tuple[int, bytes, bytes]:
    """Run argv confined (confine.py) in its own process group; on timeout kill the group.

    `confinement` names the files and folders it may touch besides the system's.
    Returns (returncode, stdout, stderr); raises TimeoutError on timeout.
    Shared with thumbnail.py so both kill children the same way.
    """
    command = resolved_argv(argv)  # FileNotFoundError for a missing binary, as before
    proc = start_confined(
        confinement,
        command,
        lambda: subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group, so killpg reaches children too
            env=child_env(),  # no proxy variables: its http(s) inputs use the egress proxy
        ),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # reap, close pipes
        raise TimeoutError(f"{argv[0]} did not finish in {timeout}s") from None
    except BaseException:
        # KeyboardInterrupt or a cancelled worker: never leave ffprobe behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, out, err


def run_tool(
    argv: Sequence[str],
    *,
    timeout: float,
    error: type[ToolError],
    confinement: Confinement = SYSTEM_ONLY,
) -> tuple[int, bytes, str]:
    """run_bounded(), with a timeout or a missing binary raised as `error`'s codes.

    Returns (returncode, stdout, stderr decoded and stripped).
    """
    try:
        rc, out, err = run_bounded(argv, timeout=timeout, confinement=confinement)
    except TimeoutError as exc:
        raise error(error.timeout_code, str(exc)) from None
    except FileNotFoundError as exc:  # the binary itself
        raise error(error.unavailable_code, str(exc)) from None
    return rc, out, err.decode("utf-8", "replace").strip()


def probe(
    target: str | os.PathLike[str],
    *,
    timeout: float = 30.0,
    protocols: Sequence[str] | None = None,
    formats: Sequence[str] | None = LIBRARY_DEMUXERS,
    ffprobe: str = FFPROBE,
) -> ProbeResult:
    """Probe a local path or URL. Blocking and thread-safe: call it from a
    thread pool (see `apps.media.scanner.probe_many`) or via `aprobe`.

    `protocols` defaults to LOCAL_PROTOCOLS for paths and REMOTE_PROTOCOLS
    for URLs. `formats` limits the demuxers ffprobe may pick; None lifts it.
    Raises ProbeError with a `probe.*` code.
    """
    if is_url(target):
        allowed = tuple(protocols) if protocols is not None else REMOTE_PROTOCOLS
        match = _URL_RE.match(str(target))
        scheme = match.group("scheme").lower() if match else ""
        if scheme not in allowed:
            raise ProbeError(ProbeErrorCode.PROTOCOL_NOT_ALLOWED, scheme)
        confinement = SYSTEM_ONLY
    else:
        allowed = tuple(protocols) if protocols is not None else LOCAL_PROTOCOLS
        _check_local(os.fspath(target))
        confinement = Confinement(read=(os.path.abspath(target),))  # that one file only
    argv = build_probe_argv(target, protocols=allowed, formats=formats, ffprobe=ffprobe)
    rc, out, stderr = run_tool(argv, timeout=timeout, error=ProbeError, confinement=confinement)
    if rc != 0:
        raise ProbeError(_classify(stderr), stderr or f"ffprobe exited with {rc}")
    try:
        data = json.loads(out)
    except ValueError as exc:
        raise ProbeError(ProbeErrorCode.FAILED, f"unreadable ffprobe output: {exc}") from None
    return parse_probe_output(data)


async def aprobe(
    target: str | os.PathLike[str],
    *,
    timeout: float = 30.0,
    protocols: Sequence[str] | None = None,
    formats: Sequence[str] | None = LIBRARY_DEMUXERS,
) -> ProbeResult:
    """`probe` for async callers (ASGI views, preflight); runs in a thread."""
    return await asyncio.to_thread(
        probe, target, timeout=timeout, protocols=protocols, formats=formats
    )


__all__ = [
    "LIBRARY_DEMUXERS",
    "LOCAL_PROTOCOLS",
    "REMOTE_PROTOCOLS",
    "ProbeError",
    "ProbeErrorCode",
    "ProbeResult",
    "StreamInfo",
    "StreamType",
    "ToolError",
    "aprobe",
    "build_probe_argv",
    "ffmpeg_input",
    "parse_frame_rate",
    "parse_probe_output",
    "probe",
    "run_bounded",
    "run_tool",
]
