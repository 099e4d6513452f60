"""Outside /api/v1: the viewer pages (/channels, /channels/{slug}, /guide) and what IPTV
clients read without an API token (/epg.xml, /playlist.m3u and the HDHomeRun tuner).

The anonymous feeds carry public channels only: an unlisted or private channel's
stream and guide URLs hold its token, which is handed out by the API (RBAC) and the
channel's own page, never to whoever asks; `/channels/{slug}/epg.xml` answers
whoever may watch the channel (public, the token, or a signed-in user for private).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from django.contrib.staticfiles import finders
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from apps.channels import feeds, selectors, tuner
from apps.channels.models import Channel, ChannelVisibility

#: The hls.js bundle the viewer site collects from npm (static/vendor/hls.js/).
HLS_JS = "vendor/hls.js/hls.min.js"
GUIDE_HOURS_DEFAULT = 4
GUIDE_HOURS_MAX = 12


@lru_cache(maxsize=1)
def hls_js_available() -> bool:
    return finders.find(HLS_JS) is not None


def _public_qs() -> QuerySet[Channel]:
    return Channel.objects.filter(enabled=True, visibility=ChannelVisibility.PUBLIC)


def _tunable_qs() -> QuerySet[Channel]:
    # A channel with no output profile can never play: an IPTV client would list a dead
    # channel (its guide may still list it: nothing tunes from the guide).
    return _public_qs().filter(output_profile__isnull=False)


@require_safe
def epg_xml(request: HttpRequest) -> StreamingHttpResponse:
    """The guide of every public channel."""
    return feeds.xmltv_response(request, _public_qs())


@require_safe
def channel_epg_xml(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """One channel's guide, for whoever may watch it (its M3U's url-tvg: Channel.guide_path)."""
    channel = Channel.objects.filter(slug=slug, enabled=True).first()
    # The stream's rule and its one 404 for "no such channel" and "not yours".
    if channel is None or not selectors.may_watch(channel, request.user, request.GET.get("token")):
        raise Http404("No such channel")
    return feeds.xmltv_response(request, Channel.objects.filter(pk=channel.pk))


@require_safe
def playlist_m3u(request: HttpRequest) -> StreamingHttpResponse:
    """The M3U of every public channel that can play, pointing at /epg.xml."""
    return feeds.m3u_response(request, _tunable_qs())


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@require_safe
def tuner_discover(request: HttpRequest) -> JsonResponse:
    return JsonResponse(tuner.discover(_base_url(request)))


@require_safe
def tuner_device_xml(request: HttpRequest) -> HttpResponse:
    """The UPnP description (discover's DeviceXmlUrl), as HDHomeRun devices serve it."""
    return HttpResponse(tuner.device_xml(_base_url(request)), content_type="application/xml")


@require_safe
def tuner_lineup(request: HttpRequest) -> JsonResponse:
    # The MPEG-TS stream, not the HLS: Plex plays the URL as one HTTP transport stream.
    entries = [
        tuner.lineup_entry(c.number, c.name, request.build_absolute_uri(c.mpegts_path()))
        for c in _tunable_qs()
    ]
    return JsonResponse(entries, safe=False)


@require_safe
def tuner_lineup_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse(tuner.lineup_status())


@require_safe
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = list(selectors.channels_listed_for(request.user).select_related("logo"))
    now_next = selectors.now_and_next(channels)
    rows = [(c, *now_next[c.pk]) for c in channels]
    return render(request, "channels/list.html", {"rows": rows})


@require_safe
def channel_page(request: HttpRequest, slug: str) -> HttpResponse:
    channel = get_object_or_404(Channel.objects.select_related("logo"), slug=slug, enabled=True)
    token = request.GET.get("token")
    if not selectors.may_watch(channel, request.user, token):
        raise Http404("No such channel")
    current, upcoming = selectors.now_and_next([channel])[channel.pk]
    return render(
        request,
        "channels/channel.html",
        {
            "channel": channel,
            "now": current,
            "next": upcoming,
            # The page was opened legitimately: its player gets the tokenised URL.
            "stream_url": channel.stream_path(),
            "hls_js": HLS_JS if hls_js_available() else "",
        },
    )


def _guide_hours(request: HttpRequest) -> int:
    raw = request.GET.get("hours", "")
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= GUIDE_HOURS_MAX:
        return int(raw)
    return GUIDE_HOURS_DEFAULT


@require_safe
def guide_page(request: HttpRequest) -> HttpResponse:
    """A grid of the next hours, from the last half hour, with the current time marked."""
    now = timezone.now()
    start = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    hours = _guide_hours(request)
    end = start + timedelta(hours=hours)
    span = (end - start).total_seconds()
    channels = list(selectors.channels_listed_for(request.user).select_related("logo"))
    listed = selectors.programmes(channels, start, end)

    def pct(at: object) -> float:
        seconds = (at - start).total_seconds()  # type: ignore[operator]
        return round(max(0.0, min(span, seconds)) / span * 100, 3)

    grid = []
    for channel in channels:
        cells = []
        for programme in listed[channel.pk]:
            left = pct(programme.start)
            cells.append(
                {
                    "programme": programme,
                    "left": left,
                    "width": round(pct(programme.end) - left, 3),
                    "on_now": programme.covers(now),
                }
            )
        grid.append((channel, cells))
    slots = [start + timedelta(minutes=30 * i) for i in range(hours * 2)]
    context = {
        "grid": grid,
        "slots": [(slot, pct(slot)) for slot in slots],
        "now": now,
        "now_left": pct(now),
        "hours": hours,
    }
    return render(request, "channels/guide.html", context)
