"""Parse and validate asciicast v1, v2 and v3 terminal recordings.

Specs: https://docs.asciinema.org/manual/asciicast/v1/ (one JSON object,
`stdout` frames of [delay, data]), .../v2/ (NDJSON header + [time, code,
data] with absolute times) and .../v3/ (NDJSON header with a `term` object,
[interval, code, data] with relative times, `#` comment lines).

No Django here: callers (upload views, workers, the live relay) pass bytes or
a binary file object and get back plain data or an `AsciicastInvalid`.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any, NamedTuple, TypedDict

from castcore import json_depth as bounded_json

__all__ = [
    "EVENT_CODES",
    "MAX_ERROR_DETAILS",
    "Asciicast",
    "AsciicastInvalid",
    "ErrorDetail",
    "Event",
    "format_event_line",
    "format_header_line",
    "iter_events",
    "parse_asciicast",
    "parse_event_line",
    "parse_header",
]

# Codes the specs define. Others must be passed through (v2 and v3 both say
# players "ignore (or pass through)" codes they don't know), so an unknown but
# well-formed code is not an error.
EVENT_CODES = {2: frozenset("oimr"), 3: frozenset("oimrx")}
# A broken file can have an error on every line; the uploader needs a few
# examples, not a million, and we stop reading once we have them.
MAX_ERROR_DETAILS = 20

_SIZE_RE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")
_STATUS_RE = re.compile(r"^[0-9]{1,10}$")
_BOM = "\ufeff"

Source = bytes | bytearray | memoryview | IO[bytes]


class ErrorDetail(TypedDict):
    line: int
    message: str


class AsciicastInvalid(ValueError):
    """The input is not a valid asciicast; `code` is machine-readable."""

    def __init__(self, code: str, details: list[ErrorDetail] | None = None) -> None:
        self.code = code
        self.details: list[ErrorDetail] = details or []
        summary = "; ".join(f"line {d['line']}: {d['message']}" for d in self.details[:3])
        super().__init__(f"{code}: {summary}" if summary else code)


class Event(NamedTuple):
    """One event on an absolute timeline (seconds since the recording start)."""

    time: float
    code: str
    data: Any


@dataclass(frozen=True, slots=True)
class Asciicast:
    """What a valid recording says about itself, plus totals over its events."""

    version: int
    cols: int
    rows: int
    duration: float
    event_count: int
    title: str | None = None
    command: str | None = None
    term_type: str | None = None
    term_version: str | None = None
    theme: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    timestamp: int | None = None
    idle_time_limit: float | None = None
    exit_status: int | None = None
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return self.cols

    @property
    def height(self) -> int:
        return self.rows


def _fail(code: str, line: int, message: str) -> AsciicastInvalid:
    return AsciicastInvalid(code, [{"line": line, "message": message}])


def _reject_constant(name: str) -> float:
    # Python's json accepts NaN/Infinity; the JSON spec and every player do not.
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return bounded_json.loads(text, parse_constant=_reject_constant)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# Far beyond any real terminal; also keeps the value inside database integers.
MAX_TERMINAL_SIZE = 10_000


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TERMINAL_SIZE


def _iter_lines(source: Source, max_bytes: int | None) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without EOL), enforcing size and UTF-8 as we go."""
    if isinstance(source, bytes | bytearray | memoryview):
        if max_bytes is not None and len(source) > max_bytes:
            raise _fail("asciicast.too_large", 0, f"input is over {max_bytes} bytes")
        stream: IO[bytes] = io.BytesIO(source)
    else:
        stream = source
    total = 0
    number = 0
    while True:
        # Bounded readline: one newline-free gigabyte can't get past max_bytes.
        raw = stream.readline(-1 if max_bytes is None else max_bytes - total + 1)
        if not raw:
            return
        total += len(raw)
        number += 1
        if max_bytes is not None and total > max_bytes:
            raise _fail("asciicast.too_large", number, f"input is over {max_bytes} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail("asciicast.not_utf8", number, f"invalid UTF-8 at byte {exc.start}") from exc
        yield number, text.rstrip("\r\n")


def _optional(header: dict[str, Any], key: str, check: Any, line: int) -> Any:
    value = header.get(key)
    if value is not None and not check(value):
        raise _fail("asciicast.bad_header", line, f"`{key}` has the wrong type")
    return value


def parse_header(header: Any, *, line: int = 1) -> Asciicast:
    """Validate a header object (v1 without frames, v2, v3); totals are zero."""
    if not isinstance(header, dict):
        raise _fail("asciicast.bad_header", line, "header must be a JSON object")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail("asciicast.bad_header", line, "`version` must be an integer")
    if version not in (1, 2, 3):
        raise _fail("asciicast.unsupported_version", line, f"version {version} is not supported")
    term = header if version < 3 else header.get("term")
    size_keys = ("width", "height") if version < 3 else ("cols", "rows")
    if not isinstance(term, dict):
        raise _fail("asciicast.bad_header", line, "`term` must be an object")
    for key in size_keys:
        if not _is_positive_int(term.get(key)):
            raise _fail(
                "asciicast.bad_header",
                line,
                f"`{key}` must be a whole number from 1 to {MAX_TERMINAL_SIZE}",
            )
    env = _optional(header, "env", lambda v: isinstance(v, dict), line) or {}
    # 2.x writes null for variables that were unset when recording; drop them.
    env = {str(k): v for k, v in env.items() if isinstance(v, str)}
    theme = _optional(term, "theme", lambda v: isinstance(v, dict), line)
    timestamp = _optional(header, "timestamp", _is_number, line)
    limit = _optional(header, "idle_time_limit", _is_number, line)
    tags = _optional(header, "tags", lambda v: isinstance(v, list), line) or []
    term_type = env.get("TERM") if version < 3 else _optional(term, "type", _is_str, line)
    stored = {k: v for k, v in header.items() if k != "stdout"}  # v1 frames can be huge
    return Asciicast(
        version=version,
        cols=term[size_keys[0]],
        rows=term[size_keys[1]],
        duration=0.0,
        event_count=0,
        title=_optional(header, "title", _is_str, line),
        command=_optional(header, "command", _is_str, line),
        term_type=term_type,
        term_version=_optional(term, "version", _is_str, line) if version == 3 else None,
        theme=theme,
        env=env,
        tags=tuple(t for t in tags if isinstance(t, str)),
        timestamp=int(timestamp) if timestamp is not None else None,
        idle_time_limit=float(limit) if limit is not None else None,
        header=stored,
    )


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _check_event_data(version: int, code: str, data: Any) -> None:
    known = code in EVENT_CODES[version]
    if (known or version == 3) and not isinstance(data, str):
        raise ValueError(f"data of a `{code}` event must be a string")
    if code == "r" and not _SIZE_RE.match(data):
        raise ValueError('resize data must look like "COLSxROWS"')
    if code == "x" and version == 3 and not _STATUS_RE.match(data):
        raise ValueError("exit data must be a non-negative integer string")


def parse_event_line(text: str, *, version: int) -> tuple[float, str, Any]:
    """Validate one v2/v3 event line; returns its raw (time or interval, code, data).

    Raises ValueError with a human message; callers attach the line number.
    """
    try:
        event = _loads(text)
    except ValueError as exc:
        raise ValueError(f"invalid JSON ({exc})") from exc
    if not isinstance(event, list) or len(event) != 3:
        raise ValueError("an event must be a 3-element array [time, code, data]")
    time, code, data = event
    label = "time" if version == 2 else "interval"
    if not _is_number(time) or time < 0:
        raise ValueError(f"{label} must be a non-negative number")
    if not isinstance(code, str) or not code:
        raise ValueError("event code must be a non-empty string")
    _check_event_data(version, code, data)
    return float(time), code, data


def _header_and_lines(
    source: Source, max_bytes: int | None
) -> tuple[Asciicast, int, Iterator[tuple[int, str]] | list[Any]]:
    """Read the header; return it and either the remaining lines or v1 frames."""
    lines = _iter_lines(source, max_bytes)
    first_line, first = next(((n, t) for n, t in lines if t.strip()), (0, ""))
    if not first:
        raise _fail("asciicast.empty", 0, "no data")
    first = first.removeprefix(_BOM)  # editors on Windows add one; JSON parsers choke on it
    try:
        header = _loads(first)
    except ValueError as line_error:
        # Not a one-line header: maybe a pretty-printed v1 document.
        rest = "\n".join(t for _, t in lines)
        try:
            header = _loads(first + "\n" + rest)
        except ValueError:
            raise _fail(
                "asciicast.bad_header", first_line, f"header is not JSON ({line_error})"
            ) from None
        if not isinstance(header, dict) or header.get("version") != 1:
            raise _fail("asciicast.bad_header", first_line, "header must fit on one line") from None
    info = parse_header(header, line=first_line)
    if info.version == 1:
        frames = header.get("stdout")
        if not isinstance(frames, list):
            raise _fail("asciicast.bad_header", first_line, "`stdout` must be an array")
        if any(t.strip() for _, t in lines):
            raise _fail("asciicast.bad_header", first_line, "data after the v1 document")
        return info, first_line, frames
    return info, first_line, lines


def _scan(
    source: Source, max_bytes: int | None
) -> tuple[Asciicast, Iterator[tuple[int, Event | str]]]:
    """Header plus a generator of (line, Event or error message) on absolute time."""
    info, first_line, rest = _header_and_lines(source, max_bytes)

    def v1_events(frames: list[Any]) -> Iterator[tuple[int, Event | str]]:
        clock = 0.0
        for index, frame in enumerate(frames):
            if (
                not isinstance(frame, list)
                or len(frame) != 2
                or not _is_number(frame[0])
                or frame[0] < 0
                or not isinstance(frame[1], str)
            ):
                yield first_line, f"stdout[{index}] must be [non-negative delay, string]"
                continue
            clock += frame[0]
            yield first_line, Event(clock, "o", frame[1])

    def ndjson_events(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, Event | str]]:
        clock = 0.0
        for number, text in lines:
            if not text.strip() or (info.version == 3 and text.startswith("#")):
                continue
            try:
                time, code, data = parse_event_line(text, version=info.version)
            except ValueError as exc:
                yield number, str(exc)
                continue
            if info.version == 2:
                if time < clock:
                    yield number, f"time {time} is before the previous event ({clock})"
                    continue
                clock = time
            else:
                clock += time
            yield number, Event(clock, code, data)

    if isinstance(rest, list):
        return info, v1_events(rest)
    return info, ndjson_events(rest)


def parse_asciicast(data: Source, *, max_bytes: int) -> Asciicast:
    """Validate a whole recording and summarise it, reading it line by line.

    Raises AsciicastInvalid: `too_large`, `empty`, `not_utf8`, `bad_header`,
    `unsupported_version` stop at once; `bad_event` collects up to
    MAX_ERROR_DETAILS lines so the uploader sees more than the first problem.
    """
    info, events = _scan(data, max_bytes)
    errors: list[ErrorDetail] = []
    count = 0
    end = 0.0
    exit_status: int | None = None
    for line, item in events:
        if isinstance(item, str):
            errors.append({"line": line, "message": item})
            if len(errors) >= MAX_ERROR_DETAILS:
                break
            continue
        count += 1
        end = item.time
        if item.code == "x" and isinstance(item.data, str) and _STATUS_RE.match(item.data):
            exit_status = int(item.data)
    if errors:
        raise AsciicastInvalid("asciicast.bad_event", errors)
    duration = end
    if info.version == 1 and count == 0 and _is_number(info.header.get("duration")):
        duration = float(info.header["duration"])
    return replace(info, duration=duration, event_count=count, exit_status=exit_status)


def iter_events(data: Source, *, max_bytes: int | None = None) -> Iterator[Event]:
    """Yield every event of any version as Event(absolute seconds, code, data).

    Fails fast: the first invalid line raises AsciicastInvalid(`bad_event`).
    """
    _, events = _scan(data, max_bytes)
    for line, item in events:
        if isinstance(item, str):
            raise _fail("asciicast.bad_event", line, item)
        yield item


def format_header_line(header: dict[str, Any]) -> str:
    """One header line (no trailing newline)."""
    return json.dumps(header, ensure_ascii=False)


def format_event_line(time: float | str, code: str, data: Any) -> str:
    """One event line; `time` may be a preformatted decimal string for exactness."""
    stamp = time if isinstance(time, str) else repr(round(float(time), 6))
    return f"[{stamp}, {json.dumps(code)}, {json.dumps(data, ensure_ascii=False)}]"
