"""A channel's HLS as viewers fetch it: `/channels/{slug}/index.m3u8` and its segments.

The access rule is the channel page's (selectors.may_watch): public channels for
anyone, others with the channel's token (`?token=`, carried into every segment URI
of the served playlist) or, for private ones, a signed-in user. The URL space is
closed: the playlist and `segment_<n>.ts` names only, checked before the disk is read.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from apps.channels.models import Channel, ChannelVisibility
from apps.channels.play.paths import PLAYLIST, hls_dir
from apps.channels.play.services import channel_viewer_seen
from apps.channels.selectors import may_watch
from castcore.files import send_file

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT = re.compile(r"^segment_[0-9]{5,12}\.ts$")
# Playlists change every segment: a cache may keep one but must ask again each time.
PLAYLIST_CACHE = "no-cache"
# A segment name is never reused for other bytes (the numbering goes on across ffmpeg
# restarts: append_list), so once fetched it never needs asking again.
SEGMENT_CACHE = "max-age=31536000, immutable"
_URI = re.compile(r"^(?!#)(\S+)$", re.MULTILINE)


def _channel(request: HttpRequest, slug: str) -> tuple[Channel, str | None]:
    channel = Channel.objects.filter(slug=slug, enabled=True).first()
    token = request.GET.get("token")
    # One answer for "no such channel" and "not yours": a 404 tells nothing about slugs.
    if channel is None or not may_watch(channel, request.user, token):
        raise Http404("No such channel")
    return channel, token if channel.token_ok(token) else None


def _cache(channel: Channel, policy: str) -> str:
    # Shared caches (a CDN, a proxy) may keep only what anyone may fetch.
    return ("public, " if channel.visibility == ChannelVisibility.PUBLIC else "private, ") + policy


@require_safe
def channel_playlist(request: HttpRequest, slug: str) -> HttpResponseBase:
    channel, token = _channel(request, slug)
    starting = channel_viewer_seen(channel=channel)
    try:
        text = (hls_dir(channel.pk) / PLAYLIST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if not text or "#EXTINF" not in text:
        # Not playing yet (an on-demand channel's first viewer): players retry.
        response = HttpResponse(status=503)
        response["Retry-After"] = "2" if starting or channel.mode == "on_demand" else "10"
        response["Cache-Control"] = "no-store"
        return response
    if token:
        query = urlencode({"token": token})
        text = _URI.sub(lambda match: f"{match.group(1)}?{query}", text)
    body = text.encode()
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=PLAYLIST_TYPE)
    response["Content-Length"] = str(len(body))
    response["Cache-Control"] = _cache(channel, PLAYLIST_CACHE)
    return response


@require_safe
def channel_segment(request: HttpRequest, slug: str, name: str) -> HttpResponseBase:
    channel, _ = _channel(request, slug)
    if not SEGMENT.match(name):
        raise Http404("No such file")
    return send_file(
        request,
        hls_dir(channel.pk) / name,
        content_type="video/mp2t",
        etag=lambda info: f'"{info.st_mtime_ns:x}-{info.st_size:x}"',
        cache_control=_cache(channel, SEGMENT_CACHE),
    )
