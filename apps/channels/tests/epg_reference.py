"""The guide renderer as it was before the fast path (datetimes, astimezone + strftime).

Kept only as the reference test_epg_fast.py compares the fast renderer with,
byte for byte: rows carry aware datetimes here, epoch microseconds there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from apps.channels.metadata import GuideText, guide_text

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates, FFFE, FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})
#: Programmes per chunk handed to the response: fewer writes, still a quick first byte.
CHUNK = 400


def clean(text: str) -> str:
    """`text` without the characters an XML 1.0 document may not contain."""
    return _FORBIDDEN.sub("", text)


def esc(text: str) -> str:
    return clean(text).translate(_ESCAPES)


@dataclass(frozen=True)
class GuideChannel:
    id: int
    guide_id: str
    number: int
    name: str
    zone: ZoneInfo
    icon_url: str = ""

    @cached_property
    def xml_id(self) -> str:
        return esc(self.guide_id)


#: An item row, filler left out: (channel id, start, title, media relpath or "").
#: In (channel, start) order; an item's programme runs until the next one starts.
GuideRow = tuple[int, datetime, str, str]
#: Each channel's compiled span in the window: (first row's start, last row's end).
Spans = dict[int, tuple[datetime, datetime]]


def xmltv_time(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S %z")


@lru_cache(maxsize=8192)
def _inner(path: str, title: str, fallback: str) -> str:
    """A programme's children, rendered once per file: a week repeats the same files."""
    text = guide_text(path) if path else GuideText(title=title)
    parts = [f"<title>{esc(text.title or title or fallback)}</title>"]
    if text.sub_title:
        parts.append(f"<sub-title>{esc(text.sub_title)}</sub-title>")
    if text.category:
        parts.append(f"<category>{esc(text.category)}</category>")
    if text.episode is not None:
        parts.append(f'<episode-num system="xmltv_ns">{text.xmltv_ns}</episode-num>')
        parts.append(f'<episode-num system="onscreen">{text.onscreen}</episode-num>')
    return "".join(parts)


class _Clock:
    """xmltv_time with the last answer kept: a programme starts when the one before stops."""

    __slots__ = ("_at", "_text", "_zone")

    def __init__(self) -> None:
        self._at: datetime | None = None
        self._zone: ZoneInfo | None = None
        self._text = ""

    def __call__(self, at: datetime, zone: ZoneInfo) -> str:
        if at != self._at or zone is not self._zone:
            self._at, self._zone, self._text = at, zone, xmltv_time(at, zone)
        return self._text


def _programme(
    clock: _Clock, channel: GuideChannel, start: datetime, stop: datetime, title: str, path: str
) -> str:
    begins = clock(start, channel.zone)
    ends = clock(stop, channel.zone)
    return (
        f'<programme start="{begins}" stop="{ends}" channel="{channel.xml_id}">'
        f"{_inner(path, title, channel.name)}</programme>\n"
    )


def _channel(channel: GuideChannel) -> str:
    icon = f'<icon src="{esc(channel.icon_url)}"/>' if channel.icon_url else ""
    return (
        f'<channel id="{esc(channel.guide_id)}">'
        f"<display-name>{esc(channel.name)}</display-name>"
        f"<display-name>{channel.number}</display-name>{icon}</channel>\n"
    )


def render_xmltv(
    channels: Iterable[GuideChannel],
    rows: Iterable[GuideRow],
    spans: Spans,
    *,
    generator: str = "CastCore",
    source_url: str = "",
) -> Iterator[str]:
    """The guide, chunk by chunk: the header and channels first, then the programmes.

    Filler never has a programme of its own: an item's runs until the next item
    starts (or the channel's last row ends), so filler folds into what it pads;
    filler before a channel's first item is one programme named after the channel.
    """
    by_id = {c.id: c for c in channels}
    source = f' source-info-url="{esc(source_url)}"' if source_url else ""
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'
        f'<tv generator-info-name="{esc(generator)}"{source}>\n'
    ]
    head.extend(_channel(c) for c in by_id.values())
    yield "".join(head)

    out: list[str] = []
    clock = _Clock()
    seen: set[int] = set()
    pending: tuple[GuideChannel, datetime, str, str] | None = None
    for channel_id, start, title, path in rows:
        channel = by_id.get(channel_id)
        if channel is None:
            continue
        if pending is not None:
            same = pending[0] is channel
            stop = start if same else spans[pending[0].id][1]
            out.append(_programme(clock, pending[0], pending[1], stop, pending[2], pending[3]))
        if channel_id not in seen:
            seen.add(channel_id)
            first = spans.get(channel_id, (start, start))[0]
            if first < start:
                out.append(_programme(clock, channel, first, start, channel.name, ""))
        pending = (channel, start, title, path)
        if len(out) >= CHUNK:
            yield "".join(out)
            out = []
    if pending is not None:
        stop = spans[pending[0].id][1]
        out.append(_programme(clock, pending[0], pending[1], stop, pending[2], pending[3]))
    for channel_id, (first, last) in spans.items():
        if channel_id not in seen and channel_id in by_id:  # filler only, no item at all
            out.append(
                _programme(clock, by_id[channel_id], first, last, by_id[channel_id].name, "")
            )
    out.append("</tv>\n")
    yield "".join(out)
