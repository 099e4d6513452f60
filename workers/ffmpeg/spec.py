"""Typed, validated descriptions of an FFmpeg stream job.

Nothing here builds command lines (see argv.py); these types only guarantee
that every value a user controls has a known type and shape. Invalid specs
cannot be constructed: `__post_init__` raises SpecError, whose code/params
follow the API error convention (`spec.<reason>`) and never include secrets.
Where a path may point and which hosts may be reached is policy.py's business.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar

from workers.ffmpeg.checks import PATH_NOT_ALLOWED, InputNotReady, SpecError
from workers.ffmpeg.checks import check_abs_path as _check_abs_path
from workers.ffmpeg.checks import check_no_nul as _check_no_nul
from workers.ffmpeg.checks import check_range as _check_range
from workers.ffmpeg.encoders import EncoderInfo, list_encoders, parse_encoders
from workers.ffmpeg.profile import AudioCodec, ProfileSpec, RateControl, VideoCodec
from workers.ffmpeg.urls import rtmp_path_key as _rtmp_path_key
from workers.ffmpeg.urls import url_secrets as _url_secrets
from workers.ffmpeg.urls import validate_url as _validate_url

__all__ = [
    "MAX_START_OFFSET_S", "AudioCodec", "Container", "EncoderInfo", "FileInput", "FileOutput",
    "FollowedHlsInput", "HlsLadderOutput", "HlsOutput", "InputKind", "InputNotReady",
    "InputSpec", "JobSpec", "OutputKind", "OutputSpec",
    "OverlaySpec", "PlaylistInput", "ProfileSpec", "RateControl", "RtmpOutput", "SpecError",
    "SrtOutput", "TestPattern", "TestPatternInput", "UdpOutput", "UrlInput", "UrlKind",
    "VariantSpec", "VideoCodec", "list_encoders", "parse_encoders", "resume_point",
]  # fmt: skip


_COLOR_RE = re.compile(
    r"^(#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?|[a-z]{3,20})(@(0(\.\d{1,3})?|1(\.0{1,3})?))?$"
)


# ---------------------------------------------------------------- inputs


class InputKind(StrEnum):
    FILE = "file"
    PLAYLIST = "playlist"
    URL = "url"
    TEST_PATTERN = "test_pattern"
    FOLLOWED_HLS = "followed_hls"


class UrlKind(StrEnum):
    RTMP = "rtmp"
    RTMPS = "rtmps"
    SRT = "srt"
    HTTP = "http"
    HTTPS = "https"
    HLS = "hls"  # an http(s) .m3u8 playlist
    UDP = "udp"


@dataclass(frozen=True)
class FileInput:
    path: str
    duration_s: float | None = None  # its length, when known (a probed media-library item)
    kind: ClassVar[InputKind] = InputKind.FILE
    recorded: ClassVar[bool] = True  # see JobSpec.paced

    def __post_init__(self) -> None:
        _check_abs_path("input.path", self.path)

    def secrets(self) -> tuple[str, ...]:
        return ()

    @property
    def length_s(self) -> float | None:
        return self.duration_s if _usable_length(self.duration_s) else None


@dataclass(frozen=True)
class PlaylistInput:
    """Files played in order through the concat demuxer (a folder is expanded by the caller)."""

    paths: tuple[str, ...]
    durations: tuple[float | None, ...] = ()  # per path, when known; () when none are
    first: int = 0  # the path it starts with; then on in order, round to the one before
    # Per path, seconds into the file where its part starts and ends (the concat
    # demuxer's inpoint/outpoint); () or None for the whole file. A channel's playout
    # plays cut items this way, in one ffmpeg, so timestamps run on across items.
    inpoints: tuple[float | None, ...] = ()
    outpoints: tuple[float | None, ...] = ()
    kind: ClassVar[InputKind] = InputKind.PLAYLIST
    recorded: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.paths or len(self.paths) > 10_000:
            raise SpecError("spec.invalid_playlist", count=len(self.paths))
        for path in self.paths:
            _check_abs_path("input.paths", path)
        for points in (self.durations, self.inpoints, self.outpoints):
            if points and len(points) != len(self.paths):
                raise SpecError("spec.invalid_playlist", count=len(self.paths))
        for index, point in enumerate(self.inpoints or ()):
            _check_range("input.inpoints", point, 0.0, MAX_START_OFFSET_S)
            end = self.outpoints[index] if self.outpoints else None
            if point is not None and end is not None and end <= point:
                raise SpecError("spec.invalid_playlist", count=len(self.paths))
        for point in self.outpoints or ():
            _check_range("input.outpoints", point, 0.001, MAX_START_OFFSET_S)
        if not 0 <= self.first < len(self.paths):
            raise SpecError("spec.invalid_playlist", count=len(self.paths))

    @property
    def ordered_paths(self) -> tuple[str, ...]:
        """The paths in the order they play: from `first`, round to the one before it."""
        return self.paths[self.first :] + self.paths[: self.first]

    def secrets(self) -> tuple[str, ...]:
        return ()

    def part_s(self, index: int) -> float | None:
        """How long path `index` plays: its outpoint (or duration) less its inpoint."""
        start = (self.inpoints[index] if self.inpoints else None) or 0.0
        end = self.outpoints[index] if self.outpoints else None
        if end is None:
            end = self.durations[index] if self.durations else None
        return end - start if end is not None and end > start else None

    @property
    def length_s(self) -> float | None:
        """The whole playlist's length, if every item's is known."""
        parts = [self.part_s(index) for index in range(len(self.paths))]
        if not all(_usable_length(part) for part in parts):
            return None
        return sum(part for part in parts if part)


@dataclass(frozen=True)
class UrlInput:
    url: str
    url_kind: UrlKind | None = None  # inferred from the scheme (and .m3u8) when None
    # A finished file behind a URL (a media-library item in S3), not a live source:
    # read at its native rate like a local file (JobSpec.paced).
    recorded: bool = False
    kind: ClassVar[InputKind] = InputKind.URL

    def __post_init__(self) -> None:
        parts = _validate_url("input.url", self.url, {k.value for k in UrlKind} - {"hls"})
        inferred = UrlKind(parts.scheme)
        if inferred in (UrlKind.HTTP, UrlKind.HTTPS) and parts.path.endswith(".m3u8"):
            inferred = UrlKind.HLS
        if self.url_kind is None:
            object.__setattr__(self, "url_kind", inferred)
        elif UrlKind(self.url_kind) is UrlKind.HLS and parts.scheme not in ("http", "https"):
            raise SpecError("spec.invalid_url", field="input.url")
        elif UrlKind(self.url_kind) not in (UrlKind.HLS, inferred):
            raise SpecError("spec.url_kind_mismatch", field="input.url")

    def secrets(self) -> tuple[str, ...]:
        return _url_secrets(self.url)


class TestPattern(StrEnum):
    __test__ = False  # not a pytest test class despite the name
    TESTSRC = "testsrc"
    TESTSRC2 = "testsrc2"
    SMPTEBARS = "smptebars"


@dataclass(frozen=True)
class TestPatternInput:
    """A lavfi test pattern plus an optional sine tone; only typed fields reach the graph."""

    __test__ = False
    pattern: TestPattern = TestPattern.TESTSRC2
    width: int = 1280
    height: int = 720
    rate: int = 30
    duration_s: float | None = None  # None: endless
    tone_hz: int = 1000
    with_audio: bool = True
    kind: ClassVar[InputKind] = InputKind.TEST_PATTERN
    recorded: ClassVar[bool] = True  # generated as fast as ffmpeg can, unless paced

    def __post_init__(self) -> None:
        TestPattern(self.pattern)
        _check_range("input.width", self.width, 16, 7680)
        _check_range("input.height", self.height, 16, 4320)
        _check_range("input.rate", self.rate, 1, 120)
        _check_range("input.duration_s", self.duration_s, 0.04, 7 * 86400)
        _check_range("input.tone_hz", self.tone_hz, 20, 20000)
        for name in ("width", "height", "rate", "tone_hz"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise SpecError("spec.invalid_number", field=f"input.{name}")

    def secrets(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class FollowedHlsInput:
    """A live HLS playlist on local disk that another of CastCore's ffmpegs writes (a
    channel's own HLS), read from its newest segment on and followed as it grows.

    Its reader outlives the writer's restarts: it waits for the next segment while the
    writer is replaced, and the timestamps go on (the writer continues its timeline,
    JobSpec.output_ts_offset_s), so what it feeds (a restream) sees one stream.
    Live: never paced. Its path is CastCore's own, not a user's (no input policy).
    """

    playlist: str
    kind: ClassVar[InputKind] = InputKind.FOLLOWED_HLS
    recorded: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_abs_path("input.playlist", self.playlist)

    def secrets(self) -> tuple[str, ...]:
        return ()


InputSpec = FileInput | PlaylistInput | UrlInput | TestPatternInput | FollowedHlsInput

MAX_START_OFFSET_S = 30 * 86400
MAX_STALL_TIMEOUT_S = 86400
MAX_TS_OFFSET_S = 100 * 365 * 86400


def _usable_length(seconds: float | None) -> bool:
    return seconds is not None and math.isfinite(seconds) and seconds > 0


def resume_point(source: InputSpec, *, played_s: float, loop: bool) -> tuple[InputSpec, float]:
    """Where a resumed input starts: (the input as it is to be opened, its -ss offset).

    `played_s` counts everything the job played, every pass of a looping input
    included. A looping input of known length starts within its current pass. A
    playlist starts with the item that was playing (its list rotated to it, which
    a loop keeps in the same round order) and the offset within that item: ffmpeg
    cannot seek the concat demuxer and would decode everything before the position
    to drop it, so only one item's worth is left to skip. A playlist of unknown
    length, or an offset past what a start may have, starts from its beginning.
    Inputs that cannot seek (URLs, test patterns) always start where they are.
    """
    if played_s <= 0 or not isinstance(source, FileInput | PlaylistInput):
        return source, 0.0
    length = source.length_s
    if loop and length:
        played_s %= length
    if isinstance(source, PlaylistInput):
        if not length:
            return source, 0.0
        for index in range(len(source.paths)):
            duration = source.part_s(index)
            assert duration is not None  # a known length means every part's is known
            if played_s < duration or index == len(source.paths) - 1:
                return replace(source, first=index), min(played_s, duration)
            played_s -= duration
    return source, played_s if played_s <= MAX_START_OFFSET_S else 0.0


# ---------------------------------------------------------------- outputs


class OutputKind(StrEnum):
    RTMP = "rtmp"
    SRT = "srt"
    HLS = "hls"
    FILE = "file"
    UDP = "udp"
    HLS_LADDER = "hls_ladder"


class Container(StrEnum):
    """File containers; values are ffmpeg muxer names."""

    MP4 = "mp4"
    MKV = "matroska"
    MOV = "mov"
    FLV = "flv"
    MPEGTS = "mpegts"


@dataclass(frozen=True)
class RtmpOutput:
    """RTMP(S) ingest; `url` is the server/app part, `stream_key` the secret path.

    A URL pasted whole, with the key as its last path segment, needs no stream_key.
    """

    url: str
    stream_key: str = field(repr=False)
    enabled: bool = True
    name: str = ""
    kind: ClassVar[OutputKind] = OutputKind.RTMP

    def __post_init__(self) -> None:
        _validate_url("output.url", self.url, {"rtmp", "rtmps"})
        if not self.stream_key and not self.key_in_url:
            # The same code as any other missing value, so the client knows what to ask for.
            raise SpecError("validation.required", field="output.stream_key")
        if self.stream_key:
            _check_no_nul("output.stream_key", self.stream_key)

    @property
    def key_in_url(self) -> bool:
        return _rtmp_path_key(self.url) is not None

    def secrets(self) -> tuple[str, ...]:
        return (self.stream_key, *_url_secrets(self.url))

    @property
    def hostname(self) -> str:
        return (urllib.parse.urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class SrtOutput:
    url: str
    passphrase: str | None = field(default=None, repr=False)
    enabled: bool = True
    name: str = ""
    kind: ClassVar[OutputKind] = OutputKind.SRT

    def __post_init__(self) -> None:
        _validate_url("output.url", self.url, {"srt"})
        if self.passphrase is not None:
            _check_no_nul("output.passphrase", self.passphrase)
            if not 10 <= len(self.passphrase) <= 79:  # libsrt's own limits
                raise SpecError(
                    "validation.out_of_range", field="output.passphrase", min=10, max=79
                )

    def secrets(self) -> tuple[str, ...]:
        return ((self.passphrase,) if self.passphrase else ()) + _url_secrets(self.url)


@dataclass(frozen=True)
class HlsOutput:
    directory: str
    segment_seconds: int = 4
    list_size: int = 6
    delete_segments: bool = True
    playlist_name: str = "index.m3u8"
    enabled: bool = True
    name: str = ""
    # Continue the playlist a previous ffmpeg left (its numbering, with a discontinuity)
    # instead of starting it anew: a channel's ffmpeg is restarted as its playout moves
    # on, and players that hold the playlist keep playing.
    append: bool = False
    # EXT-X-PROGRAM-DATE-TIME on each segment (hlsenc: the wall clock as it starts, plus
    # the durations since; appended segments keep theirs): a player then knows the
    # instant each frame went out, and so how far behind it plays.
    program_date_time: bool = False
    kind: ClassVar[OutputKind] = OutputKind.HLS

    def __post_init__(self) -> None:
        _check_abs_path("output.directory", self.directory)
        if "%" in self.directory:
            # hlsenc expands `%` in segment names and (in 5.1) has no escape for it.
            # ffmpeg reads % in a segment name as a pattern.
            raise SpecError(PATH_NOT_ALLOWED, field="output.directory", reason="percent")
        _check_range("output.segment_seconds", self.segment_seconds, 1, 60)
        _check_range("output.list_size", self.list_size, 0, 10_000)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.m3u8", self.playlist_name):
            raise SpecError("spec.invalid_playlist_name")

    def secrets(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class FileOutput:
    path: str
    container: Container = Container.MKV
    enabled: bool = True
    name: str = ""
    kind: ClassVar[OutputKind] = OutputKind.FILE

    def __post_init__(self) -> None:
        _check_abs_path("output.path", self.path)
        Container(self.container)

    def secrets(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class UdpOutput:
    url: str
    enabled: bool = True
    name: str = ""
    kind: ClassVar[OutputKind] = OutputKind.UDP

    def __post_init__(self) -> None:
        parts = _validate_url("output.url", self.url, {"udp"})
        if parts.port is None:
            raise SpecError("spec.invalid_url", field="output.url")

    def secrets(self) -> tuple[str, ...]:
        return ()


# A variant's name is its folder and its `name:` in hlsenc's var_stream_map, which splits
# on spaces, commas and colons: so only these characters, whatever the API allowed.
_VARIANT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_VARIANTS = 6


def _check_int(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise SpecError("spec.invalid_number", field=name)


@dataclass(frozen=True)
class VariantSpec:
    """One rendition of an HLS ladder: an encode at a size and bitrate, or the input's video
    copied (`passthrough`). Audio is always AAC at `audio_bitrate_kbps` (HLS-TS players
    expect AAC, and whatever the publisher sends is re-encoded cheaply).

    A passthrough needs an H.264 input: HLS in MPEG-TS carries H.264 for every player
    (HEVC needs fMP4 segments, which Safari and hls.js read but older players do not). A
    publisher that sends anything else makes the ladder's ffmpeg fail at start; a ladder
    of encoded variants takes any input."""

    name: str
    passthrough: bool = False
    width: int | None = None  # None: from the height, keeping the input's aspect ratio
    height: int | None = None
    # An encode's target; a passthrough's declared bitrate, for the master playlist's
    # BANDWIDTH (ffmpeg cannot know a copied stream's bitrate).
    video_bitrate_kbps: int | None = None
    fps: float | None = None  # None: the input's rate
    audio_bitrate_kbps: int = 128

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _VARIANT_NAME_RE.fullmatch(self.name):
            raise SpecError("spec.invalid_variant_name", field="variant.name")
        if not isinstance(self.passthrough, bool):
            raise SpecError("spec.invalid_boolean", field="variant.passthrough")
        for name in ("width", "height", "video_bitrate_kbps", "audio_bitrate_kbps"):
            _check_int(f"variant.{name}", getattr(self, name))
        _check_range("variant.width", self.width, 16, 7680)
        _check_range("variant.height", self.height, 16, 4320)
        _check_range("variant.video_bitrate_kbps", self.video_bitrate_kbps, 50, 100_000)
        _check_range("variant.fps", self.fps, 1, 120)
        _check_range("variant.audio_bitrate_kbps", self.audio_bitrate_kbps, 16, 320)
        if self.audio_bitrate_kbps is None:
            raise SpecError("validation.required", field="variant.audio_bitrate_kbps")
        if self.passthrough:
            # A copy cannot be scaled or re-timed: a size or rate asked of it would be a lie.
            for name in ("width", "height", "fps"):
                if getattr(self, name) is not None:
                    raise SpecError("spec.passthrough_not_encoded", field=f"variant.{name}")
            return
        if self.height is None:
            raise SpecError("validation.required", field="variant.height")
        if self.video_bitrate_kbps is None:
            raise SpecError("validation.required", field="variant.video_bitrate_kbps")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value % 2:
                raise SpecError("spec.odd_dimension", field=f"variant.{name}")  # 4:2:0

    @property
    def pixels(self) -> int:
        return (self.width or self.height * 16 // 9) * self.height if self.height else 0


@dataclass(frozen=True)
class HlsLadderOutput:
    """Viewers' HLS: every variant encoded by one ffmpeg into `directory`, a master playlist
    `index.m3u8` there and each variant's playlist and segments in `<directory>/<name>/`.

    `segment_seconds` and `list_size` come from the live stream's latency level
    (workers.ffmpeg.ladder.latency_window). A process started on a folder that already
    holds the playlists continues them (sequence numbers go on, a discontinuity marks the
    join): a takeover after a dead worker. Clearing the folder is the caller's choice.
    """

    directory: str
    variants: tuple[VariantSpec, ...]
    segment_seconds: int = 2
    list_size: int = 8
    with_audio: bool = True  # False: a video-only input (var_stream_map must not name audio)
    enabled: bool = True
    name: str = "hls_ladder"
    kind: ClassVar[OutputKind] = OutputKind.HLS_LADDER

    def __post_init__(self) -> None:
        _check_abs_path("output.directory", self.directory)
        if "%" in self.directory:
            raise SpecError(PATH_NOT_ALLOWED, field="output.directory", reason="percent")
        _check_range("output.segment_seconds", self.segment_seconds, 1, 10)
        _check_range("output.list_size", self.list_size, 3, 30)
        if not 1 <= len(self.variants) <= MAX_VARIANTS:
            raise SpecError("validation.out_of_range", field="variants", min=1, max=MAX_VARIANTS)
        seen: set[str] = set()
        for index, variant in enumerate(self.variants):
            if variant.name in seen:
                raise SpecError("spec.duplicate_variant_name", field=f"variants[{index}].name")
            seen.add(variant.name)
        copies = [i for i, v in enumerate(self.variants) if v.passthrough]
        if len(copies) > 1:
            raise SpecError("spec.one_passthrough", field=f"variants[{copies[1]}].passthrough")

    @property
    def feed(self) -> int:
        """The variant restream outputs and the recording get: the passthrough, else the
        largest picture (the highest bitrate among equals)."""
        for index, variant in enumerate(self.variants):
            if variant.passthrough:
                return index
        ranked = sorted(
            range(len(self.variants)),
            key=lambda i: (self.variants[i].pixels, self.variants[i].video_bitrate_kbps or 0),
        )
        return ranked[-1]

    def variant_dir(self, index: int) -> str:
        return os.path.join(self.directory, self.variants[index].name)

    def secrets(self) -> tuple[str, ...]:
        return ()


OutputSpec = RtmpOutput | SrtOutput | HlsOutput | FileOutput | UdpOutput | HlsLadderOutput


@dataclass(frozen=True)
class OverlaySpec:
    """Plain text drawn on the video; never expanded (drawtext expansion=none)."""

    text: str
    x: int = 24
    y: int = 24
    font_size: int = 32
    font_color: str = "white"
    box: bool = True
    box_color: str = "black@0.5"
    live_reload: bool = False  # re-read the text file each frame (write it atomically)

    def __post_init__(self) -> None:
        _check_no_nul("overlay.text", self.text)
        if len(self.text) > 1000:
            raise SpecError("validation.out_of_range", field="overlay.text", min=1, max=1000)
        _check_range("overlay.x", self.x, 0, 7680)
        _check_range("overlay.y", self.y, 0, 4320)
        _check_range("overlay.font_size", self.font_size, 6, 400)
        for name in ("font_color", "box_color"):
            if not _COLOR_RE.match(getattr(self, name)):
                raise SpecError("spec.invalid_color", field=f"overlay.{name}")


@dataclass(frozen=True)
class JobSpec:
    input: InputSpec
    profile: ProfileSpec
    outputs: tuple[OutputSpec, ...]
    loop: bool = False
    # Read a recorded input at its native rate (see `paced`). False reads it as fast as
    # ffmpeg can: for file-to-file work; a live output fed that way gets minutes of
    # media per minute (preview_rules warns), a file output fills the disk as fast.
    realtime: bool = True
    start_offset_s: float = 0.0
    overlay: OverlaySpec | None = None
    title: str | None = None
    # No progress for this long means stalled: the supervisor kills ffmpeg (FFmpegProcess).
    # ffmpeg's own network timeout is kept longer (argv.network_timeout_us).
    stall_timeout_s: float | None = None
    # Added to every output timestamp (ffmpeg -output_ts_offset): a process that takes
    # over from another (a channel's next window) continues its timeline instead of
    # starting at 0 again, so players and receivers never see time go back. Wrapping
    # (MPEG-TS's 33 bits, FLV's 32) is the muxers' business. Not for an HLS ladder.
    output_ts_offset_s: float = 0.0

    def __post_init__(self) -> None:
        _check_range("start_offset_s", self.start_offset_s, 0, MAX_START_OFFSET_S)
        _check_range("output_ts_offset_s", self.output_ts_offset_s, 0, MAX_TS_OFFSET_S)
        _check_range("stall_timeout_s", self.stall_timeout_s, 1, MAX_STALL_TIMEOUT_S)
        if self.title is not None:
            _check_no_nul("title", self.title)
        if not 1 <= len(self.outputs) <= 16:
            raise SpecError("validation.out_of_range", field="outputs", min=1, max=16)

    @property
    def paced(self) -> bool:
        """Whether ffmpeg reads the input at its native rate (`-re`).

        Files, playlists, test patterns and files behind URLs have no rate of their
        own: unpaced, ffmpeg reads them as fast as it can encode (a test pattern ran
        at about 8x). A live URL arrives at its own rate; pacing it would add delay.
        """
        return self.realtime and self.input.recorded

    @property
    def enabled_outputs(self) -> tuple[OutputSpec, ...]:
        return tuple(o for o in self.outputs if o.enabled)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value in the spec, for mask_argv and log masking."""
        values = [*self.input.secrets()]
        for output in self.outputs:
            values.extend(output.secrets())
        return tuple(dict.fromkeys(values))
