"""A channel's HLS as viewers fetch it: `/channels/{slug}/index.m3u8` and its segments,
and the same picture as one continuous MPEG-TS, `/channels/{slug}/stream.ts`, which
HDHomeRun clients (Plex's DVR, Jellyfin's tuner) play from the lineup.

Only the live part of the playlist is served (play/live.py). An on-demand channel's
first viewer is held (asynchronously, up to CASTCORE_CHANNEL_START_WAIT_SECONDS)
until its first segments exist, then answered 200: many IPTV clients never retry a
503, which comes only after that bound. One that cannot start (stopped on purpose, no
output profile) is answered 503 at once; one whose job is still stopping (an idle stop
a moment ago) is started again within the hold.

The access rule is the channel page's (selectors.may_watch): public channels for
anyone, others with the channel's token (`?token=`, carried into every segment URI
of the served playlist) or, for private ones, a signed-in user. The URL space is
closed: the playlist and `segment_<n>.ts` names only, checked before the disk is read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.log import log_response
from django.views.decorators.http import require_safe

from apps.channels import conf as channels_conf
from apps.channels.models import Channel, ChannelMode, ChannelVisibility
from apps.channels.play import live
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import Viewed, channel_held, channel_viewer_seen
from apps.channels.selectors import may_watch
from castcore.api.errors import envelope
from castcore.files import send_file

logger = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
MPEGTS_TYPE = "video/mp2t"
SEGMENT = re.compile(r"^segment_[0-9]{5,12}\.ts$")
# Playlists change every segment: a cache may keep one but must ask again each time.
PLAYLIST_CACHE = "no-cache"
# A segment name is never reused for other bytes (the numbering goes on across ffmpeg
# restarts: append_list), so once fetched it never needs asking again.
SEGMENT_CACHE = "max-age=31536000, immutable"
_URI = re.compile(r"^(?!#)(\S+)$", re.MULTILINE)
#: How often a held viewer asks again to start a channel whose job was still stopping.
RETRY_START_SECONDS = 1.0


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


def _ready(playlist: live.LivePlaylist | None) -> bool:
    # Enough for a player to start on: not a lone 2-second segment.
    return playlist is not None and len(playlist.segments) >= live.STREAM_START_SEGMENTS


async def _live(channel: Channel) -> live.LivePlaylist | None:
    """Note the viewer (an on-demand channel starts), and the live playlist: held for
    the first segments while the channel starts, up to the bound."""
    # The request's own thread and connection (Django hands it back when the request ends).
    viewed = await sync_to_async(channel_viewer_seen)(channel=channel)
    playlist = await asyncio.to_thread(live.live_playlist, channel.pk)
    if _ready(playlist) or channel.mode != ChannelMode.ON_DEMAND:
        return playlist
    if viewed in (Viewed.HELD, Viewed.REFUSED) or channel.output_profile_id is None:
        return playlist  # it will not start: no hold
    # Noted lately (another viewer's request started it, or it was stopped on purpose).
    if viewed == Viewed.NOTED and await sync_to_async(channel_held)(channel=channel):
        return playlist
    began = time.monotonic()
    playlist = await _hold(channel, viewed, began + channels_conf.CHANNEL_START_WAIT_SECONDS)
    if viewed != Viewed.NOTED:
        logger.info("channel %s: a viewer's start (%s), held %.1f s: %s", channel.pk,
                    viewed.value, time.monotonic() - began,
                    "playing" if playlist else "not yet")  # fmt: skip
    return playlist


async def _hold(channel: Channel, viewed: Viewed, deadline: float) -> live.LivePlaylist | None:
    """The live playlist once it lists enough segments, or what is live at `deadline`;
    while the start waits for the job to stop, asked again every RETRY_START_SECONDS."""
    while True:
        left = deadline - time.monotonic()
        step = min(left, RETRY_START_SECONDS) if viewed == Viewed.PENDING else left
        playlist = await live.wait_until_live(
            channel.pk, seconds=max(0.0, step), segments=live.STREAM_START_SEGMENTS
        )
        if _ready(playlist) or time.monotonic() >= deadline:
            return playlist
        if viewed == Viewed.PENDING:
            viewed = await sync_to_async(channel_viewer_seen)(channel=channel)
            if viewed in (Viewed.HELD, Viewed.REFUSED):
                return playlist


def _not_playing(request: HttpRequest, channel: Channel) -> JsonResponse:
    # The bound passed (or an always-on channel is down): players that retry may.
    response = JsonResponse(envelope("channel.not_playing", {"channel": channel.slug}), status=503)
    response["Retry-After"] = "2" if channel.mode == ChannelMode.ON_DEMAND else "10"
    response["Cache-Control"] = "no-store"
    # An answer the channel's rules give, not a server fault: IPTV clients retry it every
    # few seconds, which django.request would log as errors. Logged once, here (Django's
    # own log of the response then skips it).
    on_demand = channel.mode == ChannelMode.ON_DEMAND
    log_response("Channel not playing: %s", request.path, response=response, request=request,
                 logger=logger, level="info" if on_demand else "warning")  # fmt: skip
    return response


@require_safe
async def channel_playlist(request: HttpRequest, slug: str) -> HttpResponseBase:
    channel, token = await sync_to_async(_channel)(request, slug)
    playlist = await _live(channel)
    if playlist is None:
        return _not_playing(request, channel)
    text = playlist.text()
    if token:
        query = urlencode({"token": token})
        text = _URI.sub(lambda match: f"{match.group(1)}?{query}", text)
    body = text.encode()
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=PLAYLIST_TYPE)
    response["Content-Length"] = str(len(body))
    response["Cache-Control"] = _cache(channel, PLAYLIST_CACHE)
    return response


@require_safe
async def channel_stream_ts(request: HttpRequest, slug: str) -> HttpResponseBase:
    """The channel as one MPEG-TS over HTTP, live, for as long as the client reads."""
    channel, _ = await sync_to_async(_channel)(request, slug)
    playlist = await _live(channel)
    if playlist is None:
        return _not_playing(request, channel)
    if request.method == "HEAD":
        response: HttpResponseBase = HttpResponse(content_type=MPEGTS_TYPE)
    else:

        async def still_watching() -> None:
            # A stream is a viewer like a playlist poll (the idle rule of on-demand channels).
            # The request lasts as long as the stream: each note hands its connection back.
            # A channel stopped meanwhile (on purpose, disabled) is not started again: the
            # stream ends when nothing new comes.
            await database_sync_to_async(channel_viewer_seen)(channel=channel)

        response = StreamingHttpResponse(
            live.mpegts_stream(channel.pk, playlist, still_watching=still_watching),
            content_type=MPEGTS_TYPE,
        )
    response["Cache-Control"] = "no-store"
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
