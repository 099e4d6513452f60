"""The viewer site's own pages: the home page and /favicon.ico. Other pages live in their apps."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from apps.recordings import selectors as recordings

HOME_RECORDINGS = 6
HOME_STREAMS = 6


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The start of the viewer site: what is live, the latest public recordings, where to go."""
    streams = list(recordings.explore_streams().select_related("owner")[:HOME_STREAMS])
    latest = list(
        recordings.explore_recordings()
        .select_related("owner")
        .order_by("-created_at", "-id")[:HOME_RECORDINGS]
    )
    context = {
        "streams": streams,
        "recordings": latest,
        # A new instance has no account yet: the page says how to create the first one.
        "needs_first_admin": not (streams or latest)
        and not get_user_model().objects.filter(is_temporary=False).exists(),
    }
    return render(request, "home.html", context)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the static file."""
    return HttpResponseRedirect(static("favicon.ico"))
