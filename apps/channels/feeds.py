"""The guide, the M3U and the tuner lineup as HTTP responses: the one mapping layer
between channel rows and the Django-free renderers (epg.py, m3u.py, tuner.py).

Both the API (RBAC, any channel) and the anonymous IPTV URLs (public channels)
answer through here, so their ids, numbers and URLs are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from apps.channels import conf
from apps.channels.epg import GuideChannel, GuideRow, render_xmltv
from apps.channels.m3u import M3UChannel, render_m3u
from apps.channels.models import Channel, PlayoutRow

#: The guide starts this long before now, so the programme on air is in it.
GUIDE_PAST = timedelta(hours=2)
_ROWS_CHUNK = 5000


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


def guide_rows(channel_ids: Sequence[int], *, hours: int | None = None) -> Iterator[GuideRow]:
    """Rows from shortly before now to the horizon, in one ordered query read in chunks."""
    now = timezone.now()
    end = now + (
        timedelta(hours=hours) if hours else timedelta(days=conf.PLAYOUT_HORIZON_DAYS, hours=1)
    )
    rows = (
        PlayoutRow.objects.filter(
            channel_id__in=channel_ids, end__gt=now - GUIDE_PAST, start__lt=end
        )
        .order_by("channel_id", "start")
        .values_list("channel_id", "start", "end", "filler", "title", "media_item__relpath")
    )
    for channel_id, start, stop, filler, title, relpath in rows.iterator(chunk_size=_ROWS_CHUNK):
        yield channel_id, start, stop, filler, title, relpath or ""


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


def xmltv_response(
    request: HttpRequest, channels: QuerySet[Channel], *, filename: str = "epg.xml"
) -> StreamingHttpResponse:
    listed = list(channels.select_related("logo"))
    body = render_xmltv(
        guide_channels(request, listed),
        guide_rows([c.pk for c in listed]),
        source_url=request.build_absolute_uri("/"),
    )
    response = StreamingHttpResponse(_encoded(body), content_type="application/xml; charset=utf-8")
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


def m3u_response(
    request: HttpRequest, channels: QuerySet[Channel], *, guide_path: str
) -> StreamingHttpResponse:
    listed = m3u_channels(request, channels.select_related("logo"))
    body = render_m3u(listed, guide_url=_absolute(request, guide_path))
    response = StreamingHttpResponse(_encoded(body), content_type="audio/x-mpegurl; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="playlist.m3u"'
    return response
