"""Classify ffmpeg stderr lines and attach plain-language hints.

ffmpeg runs with `-loglevel level+info`, so a line looks like
`[tcp @ 0x55d0c0ffee00] [error] Connection to tcp://… failed: Connection refused`
or, from the CLI itself, `[error] rtmp://host/app/key: Input/output error`.
Lines can carry stream keys (ffmpeg prints output URLs), so the classifier
masks secrets before anything else sees the text.

Hints are a table: each row is a code, a pattern, and an English hint; the
code is the API contract (`ffmpeg.<reason>`), the text is a default.

A hint names a side: "the file does not exist" is advice about the input and
must never be attached to an output's error (a folder that cannot be written,
a segment that cannot be deleted). `LogClassifier` tells the side of a line
from what it names (the job's input and output paths and URLs, `LogSides`),
from where ffmpeg is (before its first `Input #` line only inputs are opened),
and from ffmpeg's own wording; rows that speak about one side apply to that
side's lines and to lines of unknown side only when the row says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from workers.ffmpeg.argv import PLAYLIST_FILE, mask_text
from workers.ffmpeg.egress import REFUSED_REASON
from workers.ffmpeg.muxers import output_url
from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    FollowedHlsInput,
    HlsLadderOutput,
    HlsOutput,
    JobSpec,
    PlaylistInput,
    UrlInput,
)


class LogLevel(StrEnum):
    TRACE = "trace"
    DEBUG = "debug"
    VERBOSE = "verbose"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"
    PANIC = "panic"


class Side(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class LogEvent:
    level: LogLevel
    message: str
    component: str | None = None  # "tcp", "rtmp", "flv" … from `[name @ 0x…]`
    hint_code: str | None = None
    hint: str | None = None
    line: str = ""  # the whole (masked) line
    side: Side | None = None  # which side of the job the line is about, when known


# The line sides a row applies to; None stands for "side unknown".
ANY_SIDE = frozenset({Side.INPUT, Side.OUTPUT, None})
INPUT_SIDE = frozenset({Side.INPUT, None})  # the wording itself says input (http, whitelist)
OUTPUT_SIDE = frozenset({Side.OUTPUT, None})  # the wording itself says output (publish, mux)
ONLY_INPUT = frozenset({Side.INPUT})  # as ambiguous as "No such file": only when known
ONLY_OUTPUT = frozenset({Side.OUTPUT})
UNKNOWN_SIDE = frozenset({None})


@dataclass(frozen=True)
class HintRule:
    code: str
    pattern: re.Pattern[str]
    hint: str
    sides: frozenset[Side | None] = ANY_SIDE


def _rule(code: str, pattern: str, hint: str, sides: frozenset[Side | None] = ANY_SIDE) -> HintRule:
    return HintRule(f"ffmpeg.{code}", re.compile(pattern, re.IGNORECASE), hint, sides)


STREAM_KEY_REJECTED = "ffmpeg.stream_key_rejected"
ADDRESS_NOT_ALLOWED = "ffmpeg.address_not_allowed"
HTTP_AUTH_FAILED = "ffmpeg.http_auth_failed"

# First match wins, so specific rows come before general ones.
HINT_RULES: tuple[HintRule, ...] = (
    _rule(
        "address_not_allowed",
        re.escape(REFUSED_REASON),
        "CastCore refused to connect there: the source (a redirect, a playlist or its "
        "segments) pointed at an address this server's address policy refuses: link-local "
        "or cloud metadata, or a private network where CASTCORE_ALLOW_PRIVATE_TARGETS is "
        "off. Use a source on a server the policy allows.",
        INPUT_SIDE,
    ),
    _rule(
        "protocol_not_whitelisted",
        r"Protocol '[^']*' not on whitelist",
        "The source tried to use a protocol this input type does not allow (for example a "
        "playlist pointing at local files). Check the URL or choose the matching input type.",
        INPUT_SIDE,
    ),
    _rule(
        "format_not_allowed",
        r"Format not on whitelist",
        "The input file is not a plain media file: it is a playlist, a list of other files or "
        "an image sequence, which could make FFmpeg read files outside the input folders. "
        "Use the media file itself (MP4, MKV, TS, …).",
        INPUT_SIDE,
    ),
    _rule(
        "passthrough_not_h264",
        r"is not supported by the bitstream filter 'h264_mp4toannexb'",
        "A passthrough variant of the live stream copies the publisher's video, and HLS "
        "carries only H.264 that way; the publisher sends another codec. Set the encoder to "
        "H.264, or give the stream encoded variants only.",
    ),
    _rule(
        "dns_failure",
        r"Failed to resolve hostname|Name or service not known|Temporary failure in name res",
        "The server name could not be found. Check the spelling of the host and the DNS "
        "settings of this machine.",
    ),
    _rule(
        "connection_refused",
        r"Connection refused",
        "The server refused the connection: nothing is listening on that host and port, or a "
        "firewall blocks it. Check the address and port.",
    ),
    _rule(
        "connection_timeout",
        r"Connection timed out|Operation timed out",
        "The server did not answer in time. Check the address, the network and firewalls.",
    ),
    _rule(
        STREAM_KEY_REJECTED.removeprefix("ffmpeg."),
        r"NetStream\.Publish\.(BadName|Denied|Rejected)|Server error: .*(auth|denied|reject|"
        r"invalid|key|publish)",
        "The RTMP server refused to publish: the stream key is wrong, expired, or already in "
        "use. Copy the key again from the platform.",
        OUTPUT_SIDE,
    ),
    _rule(
        "http_auth_failed",
        r"Server returned 40[13]\b",
        "The server refused access (HTTP 401/403). The URL needs valid credentials or a "
        "fresh signed link.",
        INPUT_SIDE,
    ),
    _rule(
        "http_not_found",
        r"Server returned 404",
        "The server has nothing at that address (HTTP 404). Check the URL; a live stream may "
        "not have started yet.",
        INPUT_SIDE,
    ),
    _rule(
        "http_server_error",
        r"Server returned 5XX",
        "The remote server failed (HTTP 5xx). Try again later.",
        INPUT_SIDE,
    ),
    _rule(
        "input_not_found",
        r"No such file or directory",
        "The file does not exist (or was moved or unmounted). Check the path and the storage.",
        ONLY_INPUT,
    ),
    _rule(
        "output_path_not_found",
        r"No such file or directory",
        "The output's folder does not exist (or was moved or unmounted), or a file in it was "
        "removed while FFmpeg was writing there. Check the output path and its storage.",
        ONLY_OUTPUT,
    ),
    _rule(
        "path_not_found",
        r"No such file or directory",
        "A file or folder FFmpeg needed does not exist (or was moved or unmounted). Check the "
        "input and output paths and their storage.",
        UNKNOWN_SIDE,
    ),
    _rule(
        "permission_denied",
        r"Permission denied",
        "CastCore's worker may not read or write this path: its file permissions, or the "
        "confinement that keeps FFmpeg inside the input and output folders (a file that "
        "names or links to a file elsewhere). Check the path and where it points.",
    ),
    _rule(
        "codec_not_supported_by_container",
        r"codec \S+ not compatible with|Could not find tag for codec|"
        r"codec not currently supported in container",
        "The chosen codec cannot go in this output format (for example Opus in RTMP/FLV). "
        "Pick a codec the target accepts, such as H.264 with AAC for RTMP.",
        OUTPUT_SIDE,
    ),
    _rule(
        "non_monotonic_timestamps",
        r"Non-monoton(ous|ic) DTS|non monotonically increasing dts|Invalid timestamps",
        "The source timestamps jump backwards, often where playlist items join or a live "
        "source restarts. Re-encoding instead of copy usually smooths this out.",
    ),
    _rule(
        "connection_lost",
        r"Broken pipe|Connection reset by peer|End of file.*writing",
        "The other side closed the connection while sending. The server may have dropped the "
        "stream (duplicate key, limits) or the network broke; the job will reconnect.",
        OUTPUT_SIDE,
    ),
    _rule(
        "source_connection_lost",
        r"Connection reset by peer",
        "The source closed the connection while CastCore was reading it: the stream ended "
        "there or the network broke; the job will reconnect.",
        ONLY_INPUT,
    ),
    _rule(
        "invalid_data",
        r"Invalid data found when processing input",
        "FFmpeg could not read the input as media: the file is damaged, incomplete, or not a "
        "video/audio file.",
        INPUT_SIDE,  # ffmpeg's name for AVERROR_INVALIDDATA, which a muxer may return too
    ),
)

_PREFIX = re.compile(r"^\[(?P<component>[^\]@]+?) @ 0x[0-9a-fA-F]+\]\s*")
_LEVEL = re.compile(r"^\[(?P<level>trace|debug|verbose|info|warning|error|fatal|panic)\]\s*")
_RTMP_IO_ERROR = re.compile(r"^rtmps?://\S+: Input/output error$")


def parse_line(line: str) -> LogEvent:
    """Split a `level+info` stderr line into level, component and message (no hint)."""
    text = line.rstrip("\r\n")
    rest = text
    component = None
    match = _PREFIX.match(rest)
    if match:
        component = match.group("component").strip()
        rest = rest[match.end() :]
    level = LogLevel.INFO
    match = _LEVEL.match(rest)
    if match:
        level = LogLevel(match.group("level"))
        rest = rest[match.end() :]
    return LogEvent(level=level, message=rest.strip(), component=component, line=text)


def hint_for(message: str, side: Side | None = None) -> HintRule | None:
    """The first row that matches the message and applies to a line of `side`."""
    for rule in HINT_RULES:
        if side in rule.sides and rule.pattern.search(message):
            return rule
    return None


def classify_line(line: str, secrets: Sequence[str] = (), side: Side | None = None) -> LogEvent:
    """Stateless classification of one line of known (or unknown) side; secrets masked first."""
    event = parse_line(mask_text(line, list(secrets)) if secrets else line)
    return _with_hint(replace(event, side=side))


def _with_hint(event: LogEvent) -> LogEvent:
    rule = hint_for(event.message, event.side)
    if rule is None:
        return event
    return replace(event, hint_code=rule.code, hint=rule.hint)


# ffmpeg's own wording for work on an output, then on an input. The output list comes
# first: an output's error often ends with an input-sounding strerror ("Invalid data
# found when processing input" is AVERROR_INVALIDDATA, whoever returned it).
_OUTPUT_WORDS = re.compile(
    r"output file|output stream|for output|muxer|muxing|writing|trailer|write header|"
    r"old segment|Slave '",
    re.IGNORECASE,
)
_INPUT_WORDS = re.compile(r"input file|opening input|for reading|demux|decod", re.IGNORECASE)
_OUTPUT_COMPONENTS = frozenset({"tee", "hls muxer", "segment", "fifo"})
_INPUT_COMPONENTS = frozenset({"concat", "hls demuxer"})


@dataclass(frozen=True)
class LogSides:
    """What names the input and the outputs of one run in ffmpeg's lines: paths and URLs.

    They hold secrets (an RTMP output's URL ends with its stream key), so they are
    left out of the repr; LogClassifier masks them like the lines it compares them to.
    """

    inputs: tuple[str, ...] = field(default=(), repr=False)
    outputs: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def for_spec(cls, spec: JobSpec, workdir: str | os.PathLike[str] | None = None) -> LogSides:
        """`workdir` is the one build_argv wrote its helper files to (a playlist's list)."""
        source = spec.input
        inputs: list[str] = []
        if isinstance(source, FileInput):
            inputs.append(os.path.abspath(source.path))
        elif isinstance(source, PlaylistInput):
            inputs += [os.path.abspath(path) for path in source.paths]
            if workdir is not None:
                inputs.append(os.path.abspath(Path(workdir) / PLAYLIST_FILE))
        elif isinstance(source, UrlInput):
            inputs.append(source.url)
        elif isinstance(source, FollowedHlsInput):
            inputs.append(os.path.abspath(Path(source.playlist).parent))
        outputs: list[str] = []
        for output in spec.enabled_outputs:
            if isinstance(output, HlsOutput | HlsLadderOutput):
                outputs.append(os.path.abspath(output.directory))
            elif isinstance(output, FileOutput):
                outputs.append(os.path.abspath(output.path))
            else:
                outputs.append(output_url(output))  # secrets included: masked with the line
        return cls(tuple(inputs), tuple(outputs))


def _named(text: str, names: Sequence[re.Pattern[str]]) -> int:
    """The length of the longest of `names` the text names; 0 for none."""
    return max((len(name.pattern) for name in names if name.search(text)), default=0)


def _name_pattern(name: str) -> re.Pattern[str]:
    # Whole names only: `/srv/a` is not named by `/srv/a.mp4` or `/x/srv/a`.
    return re.compile(r"(?<![\w./-])" + re.escape(name) + r"(?![\w.-])")


class LogClassifier:
    """Classifies the lines of one ffmpeg run, using what earlier lines said.

    nginx-rtmp (and most ingest servers) reject a stream key by closing the
    connection after the publish command; ffmpeg then prints only
    `[error] rtmp://host/app/<key>: Input/output error`. The same final line
    follows a DNS or connect failure, so it means "key rejected" only when no
    connection-level error came before it in this run, and never for an input.
    """

    _CONNECT_CODES = frozenset(
        {"ffmpeg.dns_failure", "ffmpeg.connection_refused", "ffmpeg.connection_timeout"}
    )

    def __init__(self, secrets: Sequence[str] = (), sides: LogSides | None = None) -> None:
        self.secrets = tuple(secrets)
        self._connect_failed = False
        self._address_refused = False
        self._inputs_open = False  # ffmpeg opens every input before any output
        sides = sides or LogSides()
        masked = [mask_text(name, list(self.secrets)) for name in sides.outputs]
        self._output_names = [_name_pattern(name) for name in masked if name]
        masked = [mask_text(name, list(self.secrets)) for name in sides.inputs]
        self._input_names = [_name_pattern(name) for name in masked if name]

    def side_of(self, event: LogEvent) -> Side | None:
        """Which side a line is about: what it names, who printed it, or where ffmpeg is."""
        text = event.message
        # The longer name wins: an HLS folder /media names /media/show.mp4 as well.
        named_output = _named(text, self._output_names)
        named_input = _named(text, self._input_names)
        if named_output != named_input:
            return Side.OUTPUT if named_output > named_input else Side.INPUT
        if event.component in _OUTPUT_COMPONENTS or _OUTPUT_WORDS.search(text):
            return Side.OUTPUT
        if event.component in _INPUT_COMPONENTS or _INPUT_WORDS.search(text):
            return Side.INPUT
        if not self._inputs_open and event.level not in _CHATTER:
            return Side.INPUT
        return None

    def classify(self, line: str) -> LogEvent:
        event = parse_line(mask_text(line, list(self.secrets)) if self.secrets else line)
        if event.message.startswith("Input #"):
            self._inputs_open = True
        event = _with_hint(replace(event, side=self.side_of(event)))
        if event.hint_code == ADDRESS_NOT_ALLOWED:
            self._address_refused = True
        elif event.hint_code == HTTP_AUTH_FAILED and self._address_refused:
            # ffmpeg's own "Server returned 403" line after the egress proxy's refusal:
            # the same refusal, not a credentials problem.
            rule = next(r for r in HINT_RULES if r.code == ADDRESS_NOT_ALLOWED)
            return replace(event, hint_code=rule.code, hint=rule.hint)
        if event.hint_code in self._CONNECT_CODES or "Cannot open connection" in event.message:
            self._connect_failed = True
        if (
            event.hint_code is None
            and event.component is None
            and event.side is not Side.INPUT
            and not self._connect_failed
            and _RTMP_IO_ERROR.match(event.message)
        ):
            rule = next(r for r in HINT_RULES if r.code == STREAM_KEY_REJECTED)
            return replace(event, hint_code=rule.code, hint=rule.hint)
        return event


# Lines that are not about a failure; only the others take the side of the phase.
_CHATTER = frozenset({LogLevel.TRACE, LogLevel.DEBUG, LogLevel.VERBOSE, LogLevel.INFO})
