"""The viewer side of live streams: the watch page, its status poll, and HLS delivery.

Mounted by castcore.urls under /live/. Every view finds the stream through
apps.streams.live.viewing (the selectors' visibility, plus watch-link tickets);
a stream a user may not watch is a 404, as if it did not exist. Every fetch of a
live stream (status poll, playlist, segment) counts its viewer
(apps.streams.live.viewers).

Playlists are always read and answered here (they are small, change every
segment, and get rewritten: the ticket and the session carried into the URIs
they list); segments go through castcore.files.send_file, which hands them to
nginx when CASTCORE_LIVE_X_ACCEL_REDIRECT is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from apps.media.selectors import asset_url
from apps.streams.live import delivery, selectors, viewers, viewing
from apps.streams.live.models import LiveStream, LiveVisibility
from apps.streams.live.paths import hls_dir, live_root
from castcore.api.authentication import session_or_bearer_user
from castcore.files import send_file


def _watchable(request: HttpRequest, slug: str) -> tuple[LiveStream, str | None]:
    """The stream and the ticket that opened it (None when none was needed or given)."""
    ticket = request.GET.get(viewing.TICKET_PARAM) or None
    stream = viewing.watchable_stream_for(session_or_bearer_user(request), slug, ticket)
    if stream is None:
        raise Http404("No such live stream")
    if ticket is not None and not viewing.ticket_opens(stream, ticket):
        ticket = None  # a stale ticket on a stream that needs none: don't carry it on
    return stream, ticket


def _with_ticket(url: str, ticket: str | None) -> str:
    return f"{url}?{urlencode({viewing.TICKET_PARAM: ticket})}" if ticket else url


def _logo_url(stream: LiveStream, user: Any) -> str | None:
    # /media/ serves assets to signed-in users only (apps/media/views.py): for anyone
    # else the image would be a broken one, so the page leaves it out.
    if stream.logo is None or user is None:
        return None
    return asset_url(stream.logo)


def _status(stream: LiveStream, live: bool) -> dict[str, Any]:
    return {
        "live": live,
        "viewers": viewers.viewer_count(stream.pk) if live else 0,
        "title": stream.display_title,
    }


@require_safe
def watch_page(request: HttpRequest, slug: str) -> HttpResponse:
    stream, ticket = _watchable(request, slug)
    user = session_or_bearer_user(request)
    share_link = None
    if stream.visibility == LiveVisibility.PRIVATE and viewing.may_share(user, stream):
        share_link = request.build_absolute_uri(
            _with_ticket(reverse("live:watch", args=[stream.slug]), viewing.watch_ticket(stream))
        )
    page = {
        "playlist": _with_ticket(reverse("live:master", args=[stream.slug]), ticket),
        "status": _with_ticket(reverse("live:status", args=[stream.slug]), ticket),
    }
    response = render(
        request,
        "live/watch.html",
        {
            "stream": stream,
            "status": _status(stream, selectors.playable_session(stream) is not None),
            "page": page,
            "share_link": share_link,
            "share_hours": viewing.WATCH_LINK_SECONDS // 3600,
            "logo_url": _logo_url(stream, user),
            "social_links": selectors.social_links(stream),
        },
    )
    if stream.visibility != LiveVisibility.PUBLIC:
        response["X-Robots-Tag"] = "noindex"
    # The page carries tickets (playback, chat) good for hours: no shared or disk cache
    # may keep it, or hand it to whoever uses the browser or the proxy next.
    response["Cache-Control"] = "private, no-store"
    if viewers.VIEWER_COOKIE not in request.COOKIES:
        # Sent back with the page's own HLS fetches (same origin), so page + player count once.
        response.set_cookie(
            viewers.VIEWER_COOKIE,
            viewers.new_viewer_cookie(),
            max_age=viewers.VIEWER_COOKIE_MAX_AGE,
            path="/live/",
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@require_safe
def watch_status(request: HttpRequest, slug: str) -> JsonResponse:
    """What the watch page polls: live or not, and how many watch."""
    stream, _ = _watchable(request, slug)
    live = selectors.playable_session(stream) is not None
    if live:
        viewers.viewer_seen(stream.pk, viewers.viewer_id(request))
    response = JsonResponse(_status(stream, live))
    response["Cache-Control"] = "no-store"
    return response


def _visibility_cache(stream: LiveStream, policy: str) -> str:
    # Shared caches (a CDN, a proxy) may keep only what anyone may fetch.
    return ("public, " if stream.visibility == LiveVisibility.PUBLIC else "private, ") + policy


def _playlist(
    request: HttpRequest, stream: LiveStream, ticket: str | None, path: Path, *, media: bool
) -> HttpResponseBase:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise Http404("No such playlist") from None
    viewers.viewer_seen(stream.pk, viewers.viewer_id(request))
    if media:
        viewers.playlist_window_seen(stream.pk, text)
    query = {}
    if ticket:
        query[viewing.TICKET_PARAM] = ticket
    session_id = viewing.open_session_id(stream) if media else None
    if session_id is not None:
        # A new session numbers its segments from 0 again: the session in their URLs keeps
        # a browser from playing a segment it cached, immutable, in an earlier session.
        query[delivery.SESSION_PARAM] = str(session_id)
    body = delivery.with_query(text, query).encode() if query else text.encode()
    response = HttpResponse(
        b"" if request.method == "HEAD" else body, content_type=delivery.PLAYLIST_TYPE
    )
    response["Content-Length"] = str(len(body))
    response["Cache-Control"] = _visibility_cache(stream, delivery.PLAYLIST_CACHE)
    return response


@require_safe
def master_playlist(request: HttpRequest, slug: str) -> HttpResponseBase:
    stream, ticket = _watchable(request, slug)
    root = hls_dir(stream)
    path = delivery.inside(root, root / delivery.PLAYLIST)
    if path is None:
        raise Http404("No such playlist")
    return _playlist(request, stream, ticket, path, media=False)


@require_safe
def variant_file(request: HttpRequest, slug: str, variant: str, name: str) -> HttpResponseBase:
    stream, ticket = _watchable(request, slug)
    path = delivery.variant_file(hls_dir(stream), variant, name)
    if path is None:
        raise Http404("No such file")
    if name == delivery.PLAYLIST:
        return _playlist(request, stream, ticket, path, media=True)
    viewers.viewer_seen(stream.pk, viewers.viewer_id(request))
    return send_file(
        request,
        path,
        content_type=delivery.segment_type(name),
        etag=lambda info: f'"{info.st_mtime_ns:x}-{info.st_size:x}"',
        cache_control=_visibility_cache(stream, delivery.SEGMENT_CACHE),
        x_accel=(live_root(), settings.LIVE_X_ACCEL_REDIRECT_PREFIX),
    )
