"""The guide, the M3U and the tuner lineup as HTTP responses: the one mapping layer
between channel rows and the Django-free renderers (epg.py, m3u.py, tuner.py).

Both the API (RBAC, any channel) and the anonymous IPTV URLs (public channels)
answer through here, so their ids, numbers and URLs are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections
from django.db.models import BigIntegerField, Func, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from apps.channels import conf
from apps.channels.epg import (
    XMLTV_TAIL,
    Clocks,
    GuideChannel,
    GuideRow,
    Spans,
    epoch_micros,
    xmltv_head,
    xmltv_programmes,
)
from apps.channels.m3u import M3UChannel, render_m3u
from apps.channels.models import Channel, PlayoutRow

#: The guide starts this long before now, so the programme on air is in it.
GUIDE_PAST = timedelta(hours=2)
_ROWS_CHUNK = 5000
#: A channel's rendered programmes are kept until their window's hour is over, and this
#: long after it (a read that began at the hour's last second, clocks of other hosts).
FRAGMENT_GRACE = timedelta(minutes=5)
_FRAGMENT_FORMAT = 1  # bump when the rendering changes
#: Text handed to the server at a time: each chunk is a hop to the request's thread and
#: back (feeds._pulled), which on a loaded machine waits for a core; 100 small ones did.
GUIDE_CHUNK_CHARS = 1 << 20


def _absolute(request: HttpRequest | None, path: str) -> str:
    if not path:
        return ""
    return request.build_absolute_uri(path) if request is not None else path


def logo_url(request: HttpRequest | None, channel: Channel) -> str:
    logo = channel.logo
    return _absolute(request, logo.file.url) if logo is not None and logo.file else ""


def guide_channels(request: HttpRequest | None, channels: Iterable[Channel]) -> list[GuideChannel]:
    return [
        GuideChannel(
            id=c.pk, guide_id=c.guide_id, number=c.number, name=c.name, zone=c.zone,
            icon_url=logo_url(request, c),
        )
        for c in channels
    ]  # fmt: skip


def guide_window(at: datetime | None = None) -> tuple[datetime, datetime]:
    """The guide's window at `at` (default now): from GUIDE_PAST before the hour to an
    hour short of the horizon. Whole hours, so a channel's rendered programmes serve
    every request of the hour; and it ends where the refresh's compiles have already
    reached (it extends every few minutes to now + horizon), so an extend's new rows land
    past it and leave every channel's rendered programmes valid."""
    hour = (at or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return hour - GUIDE_PAST, hour + timedelta(days=conf.PLAYOUT_HORIZON_DAYS, hours=-1)


def _spans_and_last_ids(
    channel_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, tuple[tuple[int, int], int]]:
    """Each channel's (first row start, last row end) in the window, and its last row's id.

    Index lookups per channel (correlated subqueries on (channel, end) and (channel,
    start)) rather than an aggregate over every row of the week. Every compile that
    changes the window writes its last row anew (a rebuild rewrites from a point to
    the horizon, an extend appends), so a new id there means new programmes.
    """
    rows = PlayoutRow.objects.filter(channel_id=OuterRef("pk"))
    first = rows.filter(end__gt=start).order_by("end").values("start")[:1]
    last = rows.filter(start__lt=end).order_by("-start")
    found = (
        Channel.objects.filter(pk__in=channel_ids)
        .annotate(
            first=Subquery(first),
            last=Subquery(last.values("end")[:1]),
            last_id=Subquery(last.values("pk")[:1]),
        )
        .values_list("pk", "first", "last", "last_id")
    )
    return {
        pk: ((epoch_micros(a), epoch_micros(b)), last_id)
        for pk, a, b, last_id in found
        if a is not None and b is not None
    }


def guide_spans(channel_ids: Sequence[int], start: datetime, end: datetime) -> Spans:
    """Each channel's first row start and last row end in the window, epoch µs."""
    return {pk: span for pk, (span, _) in _spans_and_last_ids(channel_ids, start, end).items()}


class EpochMicros(Func):
    """A timestamp column as integer microseconds since the epoch, computed by the database.

    Decoding a datetime per row (SQLite's text parsed in Python, PostgreSQL's
    binary into an aware datetime) was a large share of the guide's CPU; an
    integer is all the renderer needs. Exact on both backends: SQLite stores
    UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]" (Django writes six fraction digits or
    none), and strftime('%s') rounds a fraction of .9995 up (so it gets the whole
    seconds alone); PostgreSQL's EXTRACT(EPOCH) is numeric.
    """

    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER) * 1000000"
            " + CAST(substr(%(expressions)s, 21, 6) AS INTEGER))"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
        return self.as_sql(compiler, connection, template=template, **extra)


def guide_rows(channel_ids: Sequence[int], start: datetime, end: datetime) -> Iterator[GuideRow]:
    """The item rows (no filler) of the window, in one ordered query read in chunks.

    The query is built by the ORM but its rows are read from the cursor as they
    come: every column is already what the renderer takes (ints and text), and
    the ORM's per-row converters were a fifth of the guide's CPU.
    """
    rows = (
        PlayoutRow.objects.filter(
            channel_id__in=channel_ids, filler=False, end__gt=start, start__lt=end
        )
        .order_by("channel_id", "start")
        .values_list(
            "channel_id", EpochMicros("start"), "title",
            Coalesce("media_item__relpath", Value("")), "description",
        )
    )  # fmt: skip
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_ROWS_CHUNK):
            yield from batch


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


async def _pulled(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Chunks of a database-reading generator, each made in the sync thread.

    Under ASGI, Django reads a synchronous iterator to the end before sending a
    byte; this hands each chunk to the server as it is made. thread_sensitive: one
    thread, so the query's cursor stays on the request's connection.
    """

    def step() -> bytes | None:
        return next(chunks, None)

    pull = sync_to_async(step, thread_sensitive=True)
    while True:
        chunk = await pull()
        if chunk is None:
            return
        yield chunk


def _streaming(
    request: HttpRequest, chunks: Iterator[str], content_type: str
) -> StreamingHttpResponse:
    body = _encoded(chunks)
    asgi = hasattr(getattr(request, "_request", request), "scope")
    return StreamingHttpResponse(_pulled(body) if asgi else body, content_type=content_type)


def _fragment_key(channel: GuideChannel, span: tuple[int, int], last_id: int, at: datetime) -> str:
    """What a channel's programmes depend on: its rows (their span and last id), the
    window, and the channel's own id, name and zone (times, the filler's fallback title)."""
    parts = (
        _FRAGMENT_FORMAT, channel.id, channel.guide_id, channel.name, str(channel.zone),
        span, last_id, at.isoformat(),
    )  # fmt: skip
    return "channels:guide:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def guide_chunks(
    channels: list[GuideChannel], start: datetime, end: datetime, *, source_url: str = ""
) -> Iterator[str]:
    """The guide of `channels` over [start, end): the head, then each channel's
    programmes, taken from the cache or rendered from its rows and cached.

    Rendering 100 channels x 7 days took a quarter of a second of CPU a request; the
    rows change only when a compile writes them, so a request mostly sends what an
    earlier one rendered, or what the worker rendered after the compile
    (guide_fragments_warm). What is missing is read in one query.
    """
    yield xmltv_head(channels, source_url=source_url)
    spans, keys = _keyed(channels, start, end)
    fragments = _cached(keys)
    missing = [c for c in channels if c.id in keys and c.id not in fragments]
    if missing:
        fragments.update(_render_and_keep(missing, spans, keys, start, end))
    out: list[str] = []
    size = 0
    for channel in channels:
        out.append(fragments.get(channel.id, ""))
        size += len(out[-1])
        if size >= GUIDE_CHUNK_CHARS:
            yield "".join(out)
            out, size = [], 0
    out.append(XMLTV_TAIL)
    yield "".join(out)


def guide_fragments_warm(
    channels: list[GuideChannel], start: datetime, end: datetime, *, now: datetime | None = None
) -> int:
    """Render and cache the programmes of `channels` for the window [start, end) that
    the cache lacks, as guide_chunks would on the first read; returns how many.

    Presence is checked key by key (has_key): the fragments themselves (100 KB a channel
    a week) are not fetched to learn that they are there.
    """
    spans, keys = _keyed(channels, start, end)
    missing = [c for c in channels if c.id in keys and not cache.has_key(keys[c.id])]
    if missing:
        _render_and_keep(missing, spans, keys, start, end, now=now)
    return len(missing)


def _keyed(
    channels: list[GuideChannel], start: datetime, end: datetime
) -> tuple[Spans, dict[int, str]]:
    """The spans of the channels that have rows in the window, and their fragments' keys."""
    found = _spans_and_last_ids([c.id for c in channels], start, end)
    spans = {pk: span for pk, (span, _) in found.items()}
    keys = {
        c.id: _fragment_key(c, span, last_id, start)
        for c in channels
        if c.id in found
        for span, last_id in [found[c.id]]
    }
    return spans, keys


def _cached(keys: dict[int, str]) -> dict[int, str]:
    found = cache.get_many(list(keys.values()))
    return {pk: found[key] for pk, key in keys.items() if key in found}


def _render_and_keep(
    channels: list[GuideChannel],
    spans: Spans,
    keys: dict[int, str],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> dict[int, str]:
    """Render the channels' programmes and keep them until the window's hour is over:
    a window warmed before its hour (the next one) must last through all of it."""
    rendered = _render(channels, spans, start, end)
    now = now or timezone.now()
    seconds = max(60, int((_hour_over(start) - now).total_seconds()))
    kept, stale = _replaced({pk: keys[pk] for pk in rendered}, start, now)
    cache.set_many({keys[pk]: text for pk, text in rendered.items()}, seconds)
    cache.set_many(kept, int(_LATEST_SECONDS.total_seconds()))
    if stale:
        cache.delete_many(stale)
    return rendered


def _hour_over(start: datetime) -> datetime:
    """When the window starting at `start` stops being read (grace included)."""
    return start + GUIDE_PAST + timedelta(hours=1) + FRAGMENT_GRACE


#: How long a channel's list of its fragments' keys is kept: past the longest a fragment is.
_LATEST_SECONDS = timedelta(hours=3)


def _replaced(
    new_keys: dict[int, str], start: datetime, now: datetime
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Each channel's fragment keys by window, with `new_keys` in; and the keys they replace.

    A compile gives a channel's fragment a new key, and every extend (each few minutes)
    is a compile: without this, each left 100 KB a channel behind until it expired (up
    to two hours). Replaced: the window's earlier fragment, and those of windows whose
    hour is over. Two renders of one window racing may delete each other's fragment:
    the next read renders it again; keys name their content, so none is ever wrong.
    """
    index_keys = {pk: f"channels:guide:latest:{pk}" for pk in new_keys}
    known = cache.get_many(list(index_keys.values()))
    kept: dict[str, dict[str, str]] = {}
    stale: list[str] = []
    at = start.isoformat()
    for pk, key in new_keys.items():
        windows = dict(known.get(index_keys[pk], {}))
        for window, old in list(windows.items()):
            if (window == at and old != key) or _hour_over(datetime.fromisoformat(window)) < now:
                stale.append(old)
                del windows[window]
        windows[at] = key
        kept[index_keys[pk]] = windows
    return kept, stale


def _render(
    channels: list[GuideChannel], spans: Spans, start: datetime, end: datetime
) -> dict[int, str]:
    """Each channel's programmes, from one query over all their rows."""
    by_id = {c.id: c for c in channels}
    clocks: Clocks = {}
    rendered = {c.id: "" for c in channels}

    def programmes(channel: GuideChannel, rows: Iterable[GuideRow]) -> str:
        own = {channel.id: spans[channel.id]}
        return "".join(xmltv_programmes([channel], rows, own, clocks=clocks, window=spans))

    for channel_id, rows in groupby(guide_rows(list(by_id), start, end), key=itemgetter(0)):
        rendered[channel_id] = programmes(by_id[channel_id], rows)
    for channel in channels:
        if not rendered[channel.id]:  # filler only: one programme named after the channel
            rendered[channel.id] = programmes(channel, [])
    return rendered


def xmltv_response(
    request: HttpRequest, channels: QuerySet[Channel], *, filename: str = "epg.xml"
) -> StreamingHttpResponse:
    listed = list(channels.select_related("logo"))
    start, end = guide_window()
    body = guide_chunks(
        guide_channels(request, listed), start, end, source_url=request.build_absolute_uri("/")
    )
    response = _streaming(request, body, "application/xml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def m3u_channels(request: HttpRequest, channels: Iterable[Channel]) -> list[M3UChannel]:
    return [
        M3UChannel(
            guide_id=c.guide_id, number=c.number, name=c.name, group=c.group,
            logo_url=logo_url(request, c), stream_url=_absolute(request, c.stream_path()),
        )
        for c in channels
    ]  # fmt: skip


#: The guide of every public channel, anonymous: what the M3U of several channels names.
PUBLIC_GUIDE_PATH = "/epg.xml"


def m3u_response(
    request: HttpRequest, channels: QuerySet[Channel], *, single: Channel | None = None
) -> StreamingHttpResponse:
    """An M3U whose every URL an IPTV client can follow with no other credential.

    Streams by Channel.stream_path; the guide is /epg.xml (public channels), or for
    one channel its own guide by Channel.guide_path (with its token when not public):
    the API's guide would want an API token the client does not have.
    """
    listed = m3u_channels(request, channels.select_related("logo"))
    guide_path = single.guide_path() if single is not None else PUBLIC_GUIDE_PATH
    body = render_m3u(listed, guide_url=_absolute(request, guide_path))
    response = _streaming(request, body, "audio/x-mpegurl; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="playlist.m3u"'
    return response
