"""The live relay's state and wire format, without Django or Channels.

Producer sockets turn whatever they receive into ALiS events; those travel
over the channel layer as plain dicts (msgpack-able), stamped with the
stream's absolute time, so each viewer can compute its own relative times
after joining late or missing events. A producer keeps the stream's output
since the last Init (bounded) to bring late viewers' screens up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.recordings.alis import AlisEvent, Eot, Exit, Init, Input, Marker, Output, Resize, Theme

_KINDS: dict[type[Any], str] = {
    Init: "init",
    Output: "o",
    Input: "i",
    Marker: "m",
    Resize: "r",
    Exit: "x",
    Eot: "eot",
}


def to_wire(event: AlisEvent, time: int) -> dict[str, Any]:
    """A channel-layer-safe dict for one event at absolute `time` (µs)."""
    wire: dict[str, Any] = {"t": _KINDS[type(event)], "time": time}
    if isinstance(event, Init):
        wire.update(
            last_id=event.last_id, cols=event.cols, rows=event.rows, init_data=event.init_data
        )
        if event.theme is not None:
            wire["theme"] = [
                list(event.theme.fg),
                list(event.theme.bg),
                [list(c) for c in event.theme.palette],
            ]
    elif isinstance(event, Output | Input):
        wire.update(id=event.id, data=event.data)
    elif isinstance(event, Marker):
        wire.update(id=event.id, label=event.label)
    elif isinstance(event, Resize):
        wire.update(id=event.id, cols=event.cols, rows=event.rows)
    elif isinstance(event, Exit):
        wire.update(id=event.id, status=event.status)
    return wire


def _theme(raw: Any) -> Theme | None:
    if not raw:
        return None
    fg, bg, palette = raw
    return Theme(fg=tuple(fg), bg=tuple(bg), palette=tuple(tuple(c) for c in palette))


def from_wire(wire: dict[str, Any], rel_time: int) -> AlisEvent:
    """Rebuild an event; `rel_time` is relative to what this receiver sent last."""
    kind = wire["t"]
    if kind == "init":
        return Init(
            last_id=wire["last_id"], time=wire["time"], cols=wire["cols"], rows=wire["rows"],
            theme=_theme(wire.get("theme")), init_data=wire.get("init_data", ""),
        )  # fmt: skip
    if kind == "o":
        return Output(wire["id"], rel_time, wire["data"])
    if kind == "i":
        return Input(wire["id"], rel_time, wire["data"])
    if kind == "m":
        return Marker(wire["id"], rel_time, wire["label"])
    if kind == "r":
        return Resize(wire["id"], rel_time, wire["cols"], wire["rows"])
    if kind == "x":
        return Exit(wire["id"], rel_time, wire["status"])
    return Eot(rel_time)


@dataclass
class LiveState:
    """What a producer knows of its stream: clock, size, theme, recent output."""

    max_output: int
    time: int = 0  # µs since the stream start
    last_id: int = 0
    cols: int = 80
    rows: int = 24
    theme: Theme | None = None
    started: bool = False
    _output: list[str] = field(default_factory=list)
    _size: int = 0

    def feed(self, event: AlisEvent) -> int:
        """Advance the state; returns the event's absolute time."""
        if isinstance(event, Init):
            self.time, self.last_id = event.time, event.last_id
            self.cols, self.rows, self.theme, self.started = (
                event.cols,
                event.rows,
                event.theme,
                True,
            )
            self._output, self._size = [], 0
            self._append(event.init_data)
            return self.time
        self.time += event.rel_time
        if isinstance(event, Eot):
            self.started = False
            return self.time
        self.last_id = event.id
        if isinstance(event, Output):
            self._append(event.data)
        elif isinstance(event, Resize):
            self.cols, self.rows = event.cols, event.rows
        return self.time

    def _append(self, data: str) -> None:
        if not data:
            return
        self._output.append(data)
        self._size += len(data)
        while self._size > self.max_output and len(self._output) > 1:
            self._size -= len(self._output.pop(0))
        if self._size > self.max_output:  # one huge chunk: keep its tail
            self._output = [self._output[0][-self.max_output :]]
            self._size = len(self._output[0])

    def snapshot(self) -> Init:
        """An Init that brings a new viewer to the current screen."""
        return Init(
            last_id=self.last_id, time=self.time, cols=self.cols, rows=self.rows,
            theme=self.theme, init_data="".join(self._output),
        )  # fmt: skip
