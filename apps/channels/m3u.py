"""M3U rendering for IPTV clients (Jellyfin, Plex via xTeVe, TiviMate, Kodi).

`#EXTINF` attributes are double-quoted with no escape syntax any client agrees on,
so a double quote inside one becomes an apostrophe; the display name after the
comma is the channel's name as is (commas and quotes included: clients take
everything after the attributes' closing comma). Line breaks never survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from apps.channels.epg import clean


@dataclass(frozen=True, slots=True)
class M3UChannel:
    guide_id: str
    number: int
    name: str
    group: str
    logo_url: str
    stream_url: str


def _attr(value: str) -> str:
    return " ".join(clean(value).replace('"', "'").split())


def _line(value: str) -> str:
    return " ".join(clean(value).split())


def render_m3u(channels: Iterable[M3UChannel], *, guide_url: str = "") -> Iterator[str]:
    guide = f' url-tvg="{_attr(guide_url)}" x-tvg-url="{_attr(guide_url)}"' if guide_url else ""
    yield f"#EXTM3U{guide}\n"
    for c in channels:
        attrs = (
            f'tvg-id="{_attr(c.guide_id)}" tvg-chno="{c.number}" tvg-name="{_attr(c.name)}" '
            f'tvg-logo="{_attr(c.logo_url)}" group-title="{_attr(c.group)}"'
        )
        yield f"#EXTINF:-1 {attrs},{_line(c.name)}\n{_line(c.stream_url)}\n"
