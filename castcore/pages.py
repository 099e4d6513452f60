"""The viewer site's own pages: the home page and /favicon.ico. Other pages live in their apps."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.channels.replays.selectors import home_replays
from apps.recordings import selectors as recordings
from apps.streams.live import selectors as live_selectors
from apps.streams.live import viewers
from castcore.files import send_file

HOME_RECORDINGS = 6
HOME_STREAMS = 6
HOME_REPLAYS = 6


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The start of the viewer site: what is live, the latest public recordings, where to go."""
    live = live_selectors.live_streams_now(request.user, limit=HOME_STREAMS)
    counts = viewers.viewer_counts(stream.pk for stream in live)
    live_now = [(stream, counts[stream.pk]) for stream in live]
    streams = list(recordings.explore_streams().select_related("owner")[:HOME_STREAMS])
    latest = list(
        recordings.explore_recordings()
        .select_related("owner")
        .order_by("-created_at", "-id")[:HOME_RECORDINGS]
    )
    # Read here, not by the template tag, so that the empty state knows about them too.
    replays = home_replays(HOME_REPLAYS)
    context = {
        "live_now": live_now,
        "streams": streams,
        "recordings": latest,
        "replays": replays,
        # A new instance has no account yet: the page says how to create the first one.
        "needs_first_admin": not (live_now or streams or latest or replays)
        and not get_user_model().objects.filter(is_temporary=False).exists(),
    }
    return render(request, "home.html", context)


FAVICON = Path(settings.BASE_DIR) / "static" / "favicon.ico"


@require_safe
def favicon(request: HttpRequest) -> HttpResponseBase:
    """Browsers ask for /favicon.ico whatever the page links; answer it at that address."""
    return send_file(
        request,
        FAVICON,
        content_type="image/x-icon",
        etag=f'"favicon-{FAVICON.stat().st_mtime_ns:x}"',
        cache_control="public, max-age=86400",
    )
