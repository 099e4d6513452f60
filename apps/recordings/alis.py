"""ALiS v1, the binary live-stream protocol of asciinema CLI 3.x, server and player.

Spec: https://docs.asciinema.org/manual/server/streaming/ ("ALiS v1"). Over a
WebSocket with subprotocol `v1.alis`, the first binary message is the magic
b"ALiS\\x01"; every later message is one event: a type byte, then unsigned
LEB128 integers and length-prefixed UTF-8 strings. Times are microseconds:
Init carries the time since the stream start, every other event the time since
the previous event. EOT ends a stream and expects a new Init.

The asciicast v2/v3 <-> ALiS translation lives in alis_convert.py. No Django here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from castcore import json_depth as bounded_json

MAGIC = b"ALiS\x01"
Protocol = Literal["v1.alis", "v2.asciicast", "v3.asciicast", "raw"]
# The order asciinema-player offers them in; the server picks per client offer.
PROTOCOLS: tuple[Protocol, ...] = ("v1.alis", "v2.asciicast", "v3.asciicast", "raw")

_MAX_UINT = 2**64 - 1  # the reference implementations use u64
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
RGB = tuple[int, int, int]


class AlisError(ValueError):
    """A malformed or out-of-order ALiS message; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True, slots=True)
class Theme:
    """Terminal colours: foreground, background and an 8- or 16-colour palette."""

    fg: RGB
    bg: RGB
    palette: tuple[RGB, ...]

    def __post_init__(self) -> None:
        if len(self.palette) not in (8, 16):
            raise AlisError("alis.bad_theme", "a palette has 8 or 16 colours")
        for rgb in (self.fg, self.bg, *self.palette):
            if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                raise AlisError("alis.bad_theme", "colours are three bytes")

    def to_asciicast(self) -> dict[str, str]:
        palette = ":".join(_hex(rgb) for rgb in self.palette)
        return {"fg": _hex(self.fg), "bg": _hex(self.bg), "palette": palette}

    @classmethod
    def from_asciicast(cls, theme: Any) -> Theme | None:
        """Parse an asciicast `theme` object; None when absent or malformed."""
        if not isinstance(theme, dict):
            return None
        palette = theme.get("palette")
        colors = [theme.get("fg"), theme.get("bg"), *(palette.split(":") if palette else [])]
        if not all(isinstance(c, str) and _HEX_COLOR.match(c) for c in colors):
            return None
        rgbs = [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in colors]
        if len(rgbs) - 2 not in (8, 16):
            return None
        return cls(fg=rgbs[0], bg=rgbs[1], palette=tuple(rgbs[2:]))


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True, slots=True)
class Init:
    """Start or reset a stream; `time` is microseconds since the stream start."""

    last_id: int
    time: int
    cols: int
    rows: int
    theme: Theme | None = None
    init_data: str = ""


@dataclass(frozen=True, slots=True)
class Output:
    """Terminal output; `rel_time` is microseconds since the previous event."""

    id: int
    rel_time: int
    data: str


@dataclass(frozen=True, slots=True)
class Input:
    """Keyboard input captured by the producer."""

    id: int
    rel_time: int
    data: str


@dataclass(frozen=True, slots=True)
class Resize:
    """Terminal resized to cols x rows."""

    id: int
    rel_time: int
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class Marker:
    """A (possibly empty) labelled marker."""

    id: int
    rel_time: int
    label: str


@dataclass(frozen=True, slots=True)
class Exit:
    """The streamed process exited with `status`."""

    id: int
    rel_time: int
    status: int


@dataclass(frozen=True, slots=True)
class Eot:
    """End of transmission: the stream ended, a new Init may follow."""

    rel_time: int


AlisEvent = Init | Output | Input | Resize | Marker | Exit | Eot
_TEXT_TYPES: dict[int, type[Output] | type[Input] | type[Marker]] = {
    0x6F: Output,
    0x69: Input,
    0x6D: Marker,
}


# --- wire primitives ----------------------------------------------------------


def encode_uleb128(value: int) -> bytes:
    if not 0 <= value <= _MAX_UINT:
        raise AlisError("alis.out_of_range", f"{value} does not fit an unsigned 64-bit integer")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_uleb128(buf: bytes, pos: int) -> tuple[int, int]:
    """Return (value, position after it)."""
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise AlisError("alis.truncated", "message ends inside an integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:  # more than 10 bytes can't be a u64; stop a hostile loop early
            raise AlisError("alis.varint_overflow", "integer longer than 10 bytes")
    if value > _MAX_UINT:
        raise AlisError("alis.varint_overflow", "integer larger than 64 bits")
    return value, pos


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 1  # past the type byte

    def uint(self) -> int:
        value, self.pos = decode_uleb128(self.buf, self.pos)
        return value

    def raw(self, length: int) -> bytes:
        if self.pos + length > len(self.buf):
            raise AlisError("alis.truncated", "message ends inside a field")
        chunk = self.buf[self.pos : self.pos + length]
        self.pos += length
        return chunk

    def string(self) -> str:
        try:
            return self.raw(self.uint()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AlisError("alis.not_utf8", "string is not valid UTF-8") from exc

    def theme(self) -> Theme | None:
        fmt = self.raw(1)[0]
        if fmt == 0:
            return None
        if fmt not in (8, 16):
            raise AlisError("alis.bad_theme", f"unknown theme format {fmt}")
        data = self.raw((2 + fmt) * 3)
        rgbs = [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]
        return Theme(fg=rgbs[0], bg=rgbs[1], palette=tuple(rgbs[2:]))

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise AlisError("alis.trailing_bytes", f"{len(self.buf) - self.pos} bytes after event")


def decode_event(message: bytes) -> AlisEvent:
    """Decode one post-magic message (one event). Stateless."""
    if not message:
        raise AlisError("alis.empty_message", "empty message")
    kind = message[0]
    r = _Reader(bytes(message))
    event: AlisEvent
    if kind == 0x01:
        event = Init(r.uint(), r.uint(), r.uint(), r.uint(), r.theme(), r.string())
    elif kind in _TEXT_TYPES:
        event = _TEXT_TYPES[kind](r.uint(), r.uint(), r.string())
    elif kind == 0x72:
        event = Resize(r.uint(), r.uint(), r.uint(), r.uint())
    elif kind == 0x78:
        event = Exit(r.uint(), r.uint(), r.uint())
    elif kind == 0x04:
        event = Eot(r.uint())
    else:
        raise AlisError("alis.unknown_event", f"unknown event type 0x{kind:02x}")
    r.done()
    return event


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return encode_uleb128(len(data)) + data


def _theme(theme: Theme | None) -> bytes:
    if theme is None:
        return b"\x00"
    colors = (theme.fg, theme.bg, *theme.palette)
    return bytes([len(theme.palette)]) + bytes(c for rgb in colors for c in rgb)


def encode_event(event: AlisEvent) -> bytes:
    """Encode one event as the payload of one binary WebSocket message."""
    u = encode_uleb128
    if isinstance(event, Init):
        head = u(event.last_id) + u(event.time) + u(event.cols) + u(event.rows)
        return b"\x01" + head + _theme(event.theme) + _string(event.init_data)
    if isinstance(event, Output | Input | Marker):
        kind = {Output: b"\x6f", Input: b"\x69", Marker: b"\x6d"}[type(event)]
        text = event.label if isinstance(event, Marker) else event.data
        return kind + u(event.id) + u(event.rel_time) + _string(text)
    if isinstance(event, Resize):
        return b"\x72" + u(event.id) + u(event.rel_time) + u(event.cols) + u(event.rows)
    if isinstance(event, Exit):
        return b"\x78" + u(event.id) + u(event.rel_time) + u(event.status)
    return b"\x04" + u(event.rel_time)


class AlisDecoder:
    """Decode one connection's messages in order, enforcing magic -> Init -> events.

    After each event `time` is the stream time in microseconds. A failed
    message leaves the state untouched, so a caller may log it and go on.
    """

    def __init__(self) -> None:
        self.state: Literal["magic", "init", "stream"] = "magic"
        self.time = 0
        self.last_id = 0

    def feed(self, message: bytes) -> AlisEvent | None:
        """Decode one binary message; returns None for the magic string."""
        if self.state == "magic":
            if bytes(message) == MAGIC:
                self.state = "init"
                return None
            if bytes(message[:4]) == MAGIC[:4] and len(message) == len(MAGIC):
                raise AlisError("alis.unsupported_version", f"ALiS version {message[4]}")
            raise AlisError("alis.bad_magic", 'the first message must be b"ALiS\\x01"')
        event = decode_event(message)
        if isinstance(event, Init):
            self.state, self.time, self.last_id = "stream", event.time, event.last_id
            return event
        if self.state == "init":
            raise AlisError("alis.no_init", f"{type(event).__name__} before Init")
        self.time += event.rel_time
        if isinstance(event, Eot):
            self.state = "init"
        else:
            self.last_id = event.id
        return event


# --- protocol choice ---------------------------------------------------------------


def negotiate_subprotocol(offered: list[str] | tuple[str, ...]) -> Protocol | None:
    """Pick the client's first offered subprotocol that we speak."""
    for name in offered:
        for known in PROTOCOLS:
            if name == known:
                return known
    return None


def detect_protocol(*, subprotocol: str | None, first_message: bytes | str | None) -> Protocol:
    """Protocol of a producer connection: the negotiated name, else sniff message one.

    Like asciinema server: ALiS magic, else an asciicast v2/v3 header, else raw.
    """
    chosen = negotiate_subprotocol([subprotocol]) if subprotocol else None
    if chosen is not None:
        return chosen
    if first_message is None:
        return "raw"
    if isinstance(first_message, bytes | bytearray):
        if bytes(first_message[:4]) == MAGIC[:4]:
            return "v1.alis"  # the decoder reports an unsupported version, if any
        try:
            first_message = bytes(first_message).decode("utf-8")
        except UnicodeDecodeError:
            return "raw"
    line = first_message.lstrip().split("\n", 1)[0]
    if line.startswith("{"):
        try:
            version = bounded_json.loads(line).get("version")
        except (ValueError, AttributeError):
            return "raw"
        if version == 2:
            return "v2.asciicast"
        if version == 3:
            return "v3.asciicast"
    return "raw"
