"""asciicast v2/v3 <-> ALiS v1 translation, for the live relay.

Producers may speak asciicast over text frames while viewers get ALiS, and a
recorded live stream is written back as asciicast. No Django here.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from apps.recordings.alis import (
    AlisError,
    AlisEvent,
    Eot,
    Exit,
    Init,
    Input,
    Marker,
    Output,
    Resize,
    Theme,
)
from apps.recordings.asciicast import format_event_line, format_header_line, parse_event_line
from apps.recordings.asciicast import parse_header as parse_asciicast_header
from castcore import json_depth as bounded_json

_EXIT_STATUS = re.compile(r"^[0-9]{1,10}$")  # ASCII only: str.isdigit() takes "²"


def _seconds(micros: int) -> str:
    # Exact decimal from integer microseconds: no float drift in written files.
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else f"{whole}.0"


class AsciicastToAlis:
    """Turn an asciicast v2/v3 text stream (one line per message) into ALiS events.

    Ids count from 1; times are rounded on the absolute clock so rounding
    errors don't accumulate. Unknown codes are dropped: ALiS can't carry them.
    """

    def __init__(self) -> None:
        self.version: int | None = None
        self._next_id = 1
        self._clock = 0.0  # seconds since the start, as the producer counts it
        self._sent_us = 0  # microseconds already handed out as rel_time

    def feed(self, message: str) -> list[AlisEvent]:
        """Translate one text message (lines split on newlines) to events."""
        out: list[AlisEvent] = []
        # Only "\n" ends a line: str.splitlines() would also cut at U+0085 or
        # U+2028, which JSON strings may carry unescaped.
        for raw in message.split("\n"):
            line = raw.removesuffix("\r")
            if not line.strip() or (self.version == 3 and line.startswith("#")):
                continue
            event = self._header(line) if self.version is None else self._event(line)
            if event is not None:
                out.append(event)
        return out

    def _header(self, line: str) -> Init:
        try:
            header = bounded_json.loads(line)
        except ValueError as exc:
            raise AlisError("alis.bad_header", "header is not JSON") from exc
        try:
            info = parse_asciicast_header(header)
        except ValueError as exc:
            raise AlisError("alis.bad_header", str(exc)) from exc
        if info.version == 1:
            raise AlisError("alis.bad_header", "asciicast v1 cannot be streamed")
        self.version = info.version
        theme = Theme.from_asciicast(info.theme)
        return Init(last_id=0, time=0, cols=info.cols, rows=info.rows, theme=theme)

    def _event(self, line: str) -> AlisEvent | None:
        assert self.version is not None
        try:
            time, code, data = parse_event_line(line, version=self.version)
        except ValueError as exc:
            raise AlisError("alis.bad_event", str(exc)) from exc
        self._clock = time if self.version == 2 else self._clock + time
        # A v2 clock that steps back yields rel_time 0; a live viewer prefers
        # that to a dropped stream (file uploads still reject it).
        now_us = max(round(self._clock * 1_000_000), self._sent_us)
        rel, self._sent_us = now_us - self._sent_us, now_us
        event_id = self._next_id
        event: AlisEvent | None = None
        if code in ("o", "i"):
            event = (Output if code == "o" else Input)(event_id, rel, data)
        elif code == "m":
            event = Marker(event_id, rel, data)
        elif code == "r":
            cols, rows = (int(n) for n in data.split("x"))
            event = Resize(event_id, rel, cols, rows)
        elif code == "x" and isinstance(data, str) and _EXIT_STATUS.match(data):
            event = Exit(event_id, rel, int(data))
        if event is None:
            # The time still passed: fold it into the next event's rel_time.
            self._sent_us -= rel
            return None
        self._next_id += 1
        return event


class AlisToAsciicast:
    """Turn decoded ALiS events into asciicast v2 or v3 lines (no newlines).

    Each Init starts a new recording (a header line, then its init_data as an
    output at time 0). Exit becomes "x" in v3; v2 has no such code, so it is
    dropped there. EOT ends the recording and emits nothing.
    """

    def __init__(self, version: Literal[2, 3] = 3, *, header: dict[str, Any] | None = None):
        self.version = version
        self.extra_header = header or {}
        self._clock_us = 0

    def feed(self, event: AlisEvent) -> list[str]:
        if isinstance(event, Init):
            return self._init(event)
        if isinstance(event, Eot):
            return []
        self._clock_us += event.rel_time
        stamp = _seconds(self._clock_us if self.version == 2 else event.rel_time)
        if isinstance(event, Output):
            return [format_event_line(stamp, "o", event.data)]
        if isinstance(event, Input):
            return [format_event_line(stamp, "i", event.data)]
        if isinstance(event, Marker):
            return [format_event_line(stamp, "m", event.label)]
        if isinstance(event, Resize):
            return [format_event_line(stamp, "r", f"{event.cols}x{event.rows}")]
        if self.version == 3:
            return [format_event_line(stamp, "x", str(event.status))]
        return []  # v2 times are absolute, so dropping Exit shifts nothing

    def _init(self, event: Init) -> list[str]:
        self._clock_us = 0
        header: dict[str, Any] = {"version": self.version, **self.extra_header}
        theme = event.theme.to_asciicast() if event.theme else None
        if self.version == 2:
            header.update(width=event.cols, height=event.rows)
            if theme:
                header["theme"] = theme
        else:
            term: dict[str, Any] = {"cols": event.cols, "rows": event.rows}
            if theme:
                term["theme"] = theme
            header["term"] = term
        lines = [format_header_line(header)]
        if event.init_data:
            lines.append(format_event_line("0.0", "o", event.init_data))
        return lines
