"""Classify ffmpeg stderr lines and attach plain-language hints.

ffmpeg runs with `-loglevel level+info`, so a line looks like
`[tcp @ 0x55d0c0ffee00] [error] Connection to tcp://… failed: Connection refused`
or, from the CLI itself, `[error] rtmp://host/app/key: Input/output error`.
Lines can carry stream keys (ffmpeg prints output URLs), so the classifier
masks secrets before anything else sees the text.

Hints are a table: each row is a code, a pattern, and an English hint; the
code is the API contract (`ffmpeg.<reason>`), the text is a default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from workers.ffmpeg.argv import mask_text
from workers.ffmpeg.egress import REFUSED_REASON


class LogLevel(StrEnum):
    TRACE = "trace"
    DEBUG = "debug"
    VERBOSE = "verbose"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"
    PANIC = "panic"


@dataclass(frozen=True)
class LogEvent:
    level: LogLevel
    message: str
    component: str | None = None  # "tcp", "rtmp", "flv" … from `[name @ 0x…]`
    hint_code: str | None = None
    hint: str | None = None
    line: str = ""  # the whole (masked) line


@dataclass(frozen=True)
class HintRule:
    code: str
    pattern: re.Pattern[str]
    hint: str


def _rule(code: str, pattern: str, hint: str) -> HintRule:
    return HintRule(f"ffmpeg.{code}", re.compile(pattern, re.IGNORECASE), hint)


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
    ),
    _rule(
        "protocol_not_whitelisted",
        r"Protocol '[^']*' not on whitelist",
        "The source tried to use a protocol this input type does not allow (for example a "
        "playlist pointing at local files). Check the URL or choose the matching input type.",
    ),
    _rule(
        "format_not_allowed",
        r"Format not on whitelist",
        "The input file is not a plain media file: it is a playlist, a list of other files or "
        "an image sequence, which could make FFmpeg read files outside the input folders. "
        "Use the media file itself (MP4, MKV, TS, …).",
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
    ),
    _rule(
        "http_auth_failed",
        r"Server returned 40[13]\b",
        "The server refused access (HTTP 401/403). The URL needs valid credentials or a "
        "fresh signed link.",
    ),
    _rule(
        "http_not_found",
        r"Server returned 404",
        "The server has nothing at that address (HTTP 404). Check the URL; a live stream may "
        "not have started yet.",
    ),
    _rule(
        "http_server_error",
        r"Server returned 5XX",
        "The remote server failed (HTTP 5xx). Try again later.",
    ),
    _rule(
        "input_not_found",
        r"No such file or directory",
        "The file does not exist (or was moved or unmounted). Check the path and the storage.",
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
    ),
    _rule(
        "invalid_data",
        r"Invalid data found when processing input",
        "FFmpeg could not read the input as media: the file is damaged, incomplete, or not a "
        "video/audio file.",
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


def hint_for(message: str) -> HintRule | None:
    for rule in HINT_RULES:
        if rule.pattern.search(message):
            return rule
    return None


def classify_line(line: str, secrets: Sequence[str] = ()) -> LogEvent:
    """Stateless classification of one line; secrets are masked first."""
    event = parse_line(mask_text(line, list(secrets)) if secrets else line)
    rule = hint_for(event.message)
    if rule is None:
        return event
    return LogEvent(event.level, event.message, event.component, rule.code, rule.hint, event.line)


class LogClassifier:
    """Classifies the lines of one ffmpeg run, using what earlier lines said.

    nginx-rtmp (and most ingest servers) reject a stream key by closing the
    connection after the publish command; ffmpeg then prints only
    `[error] rtmp://host/app/<key>: Input/output error`. The same final line
    follows a DNS or connect failure, so it means "key rejected" only when no
    connection-level error came before it in this run.
    """

    _CONNECT_CODES = frozenset(
        {"ffmpeg.dns_failure", "ffmpeg.connection_refused", "ffmpeg.connection_timeout"}
    )

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self.secrets = tuple(secrets)
        self._connect_failed = False
        self._address_refused = False

    def classify(self, line: str) -> LogEvent:
        event = classify_line(line, self.secrets)
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
            and not self._connect_failed
            and _RTMP_IO_ERROR.match(event.message)
        ):
            rule = next(r for r in HINT_RULES if r.code == STREAM_KEY_REJECTED)
            return LogEvent(event.level, event.message, None, rule.code, rule.hint, event.line)
        return event
