"""XMLTV rendering: channels and playout rows in, the guide out as a stream of text chunks.

Django-free and typed, like the engine's argv builder: the views load rows in
one ordered query and hand them here. Text is built with string formatting, not
a DOM, so 100 channels x 7 days stream in well under half a second
(bench/epg.py). Valid against xmltv.dtd (tests validate with lxml):
- one <channel> per channel, then every <programme>, in DTD order of children;
- times as "YYYYmmddHHMMSS +HHMM" in the channel's own zone: rows carry epoch
  microseconds and local times are integer arithmetic on each zone's offset spans
  (_ZoneClock), equal byte for byte to astimezone + strftime (tests/test_epg_fast.py);
- text escaped for &, <, >, quotes; characters XML 1.0 forbids are removed;
- a filler row extends the programme before it (a channel that starts on filler
  gets one programme titled with the channel's name).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


#: An item row, filler left out: (channel id, start, title, media relpath or "", description).
#: Times are integer microseconds since the Unix epoch (UTC), as the database can
#: hand them over without building a datetime per row (feeds.EpochMicros).
#: In (channel, start) order; an item's programme runs until the next one starts.
GuideRow = tuple[int, int, str, str, str]
#: Each channel's compiled span in the window: (first row's start, last row's end), epoch µs.
Spans = dict[int, tuple[int, int]]

_MICROS = 1_000_000
_DAY = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Offset changes are found by sampling a zone this often, then bisecting to the second.
#: No zone in tzdata changes its offset twice within an hour, so none is missed.
_SAMPLE = 3600
#: A window wider than this (not a guide's week) is not sampled: every time takes xmltv_time.
_WIDEST = 60 * _DAY
_HHMM = [f"{h:02d}{m:02d}" for h in range(24) for m in range(60)]
_SS = [f"{s:02d}" for s in range(60)]


def epoch_micros(at: datetime) -> int:
    """`at` (aware) as integer microseconds since the epoch, exactly (no float)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def xmltv_time(at: datetime, zone: ZoneInfo) -> str:
    """The reference formatting (one datetime per time): what _ZoneClock must equal."""
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S %z")


@lru_cache(maxsize=8192)
def _inner(path: str, title: str, description: str, fallback: str) -> str:
    """A programme's children, rendered once per file: a week repeats the same files.

    In xmltv.dtd's order: title, sub-title, desc, category, episode-num.
    """
    text = guide_text(path) if path else GuideText(title=title)
    parts = [f"<title>{esc(text.title or title or fallback)}</title>"]
    if text.sub_title:
        parts.append(f"<sub-title>{esc(text.sub_title)}</sub-title>")
    if description:
        parts.append(f"<desc>{esc(description)}</desc>")
    if text.category:
        parts.append(f"<category>{esc(text.category)}</category>")
    if text.episode is not None:
        parts.append(f'<episode-num system="xmltv_ns">{text.xmltv_ns}</episode-num>')
        parts.append(f'<episode-num system="onscreen">{text.onscreen}</episode-num>')
    return "".join(parts)


def _offset(zone: ZoneInfo, second: int) -> int:
    offset = datetime.fromtimestamp(second, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


class _ZoneClock:
    """XMLTV local times of one zone by integer arithmetic on epoch seconds.

    astimezone + strftime per time was most of the guide's CPU. Here the zone's
    offsets over the guide's window are found once (sampled hourly, each change
    bisected to its second), and a time is its epoch second plus the offset of its
    span, split into a cached date and table-made hhmm and ss. Output equals xmltv_time; times
    outside the window, or in a span whose offset is not whole minutes (%z would
    print seconds), go through xmltv_time itself.
    """

    __slots__ = ("_days", "_firsts", "_hi", "_last", "_lo", "_spans", "_text", "zone")

    def __init__(self, zone: ZoneInfo, lo: int, hi: int) -> None:
        if hi - lo > _WIDEST:
            lo, hi = 1, 0  # nothing is inside: the slow path answers
        self.zone, self._lo, self._hi = zone, lo, hi
        self._last, self._text = -1, ""
        self._days: dict[int, str] = {}
        # (first second, offset, " +HHMM" or None) per span, in time order; the last
        # span runs to hi, past which the slow path answers.
        self._spans: list[tuple[int, int, str | None]] = []
        at, offset = lo, _offset(zone, lo)
        self._add(lo, offset)
        while at < hi:
            step = min(at + _SAMPLE, hi)
            if _offset(zone, step) == offset:
                at = step
                continue
            low, high = at, step  # offset(low) == offset, offset(high) != offset
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            offset = _offset(zone, high)
            self._add(high, offset)
            at = high  # sample on from the change itself
        self._firsts = [span[0] for span in self._spans]

    def _add(self, first: int, offset: int) -> None:
        sign = "-" if offset < 0 else "+"
        hours, minutes = divmod(abs(offset) // 60, 60)
        suffix = None if offset % 60 else f" {sign}{hours:02d}{minutes:02d}"
        self._spans.append((first, offset, suffix))

    def __call__(self, micros: int) -> str:
        second = micros // _MICROS
        if second == self._last:  # a programme starts when the one before stops
            return self._text
        if not self._lo <= second <= self._hi:
            text = self._slow(second)
        else:
            _, offset, suffix = self._spans[bisect_right(self._firsts, second) - 1]
            if suffix is None:
                text = self._slow(second)
            else:
                day, rest = divmod(second + offset, _DAY)
                date = self._days.get(day)
                if date is None:
                    date = self._days[day] = (_EPOCH + timedelta(days=day)).strftime("%Y%m%d")
                minute, sec = divmod(rest, 60)
                text = f"{date}{_HHMM[minute]}{_SS[sec]}{suffix}"
        self._last, self._text = second, text
        return text

    def _slow(self, second: int) -> str:
        return xmltv_time(datetime.fromtimestamp(second, UTC), self.zone)


def _programme(
    clock: _ZoneClock,
    channel: GuideChannel,
    start: int,
    stop: int,
    title: str,
    path: str,
    description: str = "",
) -> str:
    return (
        f'<programme start="{clock(start)}" stop="{clock(stop)}" channel="{channel.xml_id}">'
        f"{_inner(path, title, description, channel.name)}</programme>\n"
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
    """The guide, chunk by chunk: the header and channels first, then the programmes."""
    listed = list(channels)
    yield xmltv_head(listed, generator=generator, source_url=source_url)
    yield from xmltv_programmes(listed, rows, spans)
    yield XMLTV_TAIL


XMLTV_TAIL = "</tv>\n"


def xmltv_head(
    channels: Iterable[GuideChannel], *, generator: str = "CastCore", source_url: str = ""
) -> str:
    """The document up to the programmes: declaration, <tv> and every <channel>."""
    source = f' source-info-url="{esc(source_url)}"' if source_url else ""
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'
        f'<tv generator-info-name="{esc(generator)}"{source}>\n'
    ]
    head.extend(_channel(c) for c in {c.id: c for c in channels}.values())
    return "".join(head)


#: Each zone's clock over a guide's window, shared by the calls that render it.
Clocks = dict[ZoneInfo, "_ZoneClock"]


def xmltv_programmes(
    channels: Iterable[GuideChannel],
    rows: Iterable[GuideRow],
    spans: Spans,
    *,
    clocks: Clocks | None = None,
    window: Spans | None = None,
) -> Iterator[str]:
    """Every <programme> of the rows, chunk by chunk.

    Filler never has a programme of its own: an item's runs until the next item
    starts (or the channel's last row ends), so filler folds into what it pads;
    filler before a channel's first item is one programme named after the channel.
    Calls that render one guide a channel at a time share `clocks`, made over the
    spans of `window` (all its channels'; default `spans`).
    """
    by_id = {c.id: c for c in channels}
    # One clock per zone over the whole guide's window: channels share a handful of zones.
    every = (window or spans).values()
    lo = min((first for first, _ in every), default=0) // _MICROS
    hi = max((last for _, last in every), default=0) // _MICROS
    clocks = {} if clocks is None else clocks

    def clock_of(channel: GuideChannel) -> _ZoneClock:
        found = clocks.get(channel.zone)
        if found is None:
            found = clocks[channel.zone] = _ZoneClock(channel.zone, lo, hi)
        return found

    out: list[str] = []
    seen: set[int] = set()
    pending: tuple[GuideChannel, int, str, str, str] | None = None
    clock = pending_clock = None
    for channel_id, start, title, path, description in rows:
        channel = by_id.get(channel_id)
        if channel is None:
            continue
        if pending is not None and pending_clock is not None:
            same = pending[0] is channel
            stop = start if same else spans[pending[0].id][1]
            out.append(_programme(pending_clock, pending[0], pending[1], stop, *pending[2:]))
        if channel_id not in seen:
            seen.add(channel_id)
            first = spans.get(channel_id, (start, start))[0]
            if first < start:
                out.append(_programme(clock_of(channel), channel, first, start, channel.name, ""))
        if pending is None or pending[0] is not channel:
            clock = clock_of(channel)
        pending, pending_clock = (channel, start, title, path, description), clock
        if len(out) >= CHUNK:
            yield "".join(out)
            out = []
    if pending is not None and pending_clock is not None:
        stop = spans[pending[0].id][1]
        out.append(_programme(pending_clock, pending[0], pending[1], stop, *pending[2:]))
    for channel_id, (first, last) in spans.items():
        if channel_id not in seen and channel_id in by_id:  # filler only, no item at all
            only = by_id[channel_id]
            out.append(_programme(clock_of(only), only, first, last, only.name, ""))
    yield "".join(out)
