"""Which live stream an Owncast request is for: its base URL's.

Every live stream has the base `/owncast/<slug>/`; the host root (`/api/…`, `/ws`)
serves the instance's default stream (settings.OWNCAST_DEFAULT_STREAM, a slug, from
CASTCORE_OWNCAST_DEFAULT_STREAM). None (no such stream, no default) is a 404 in
Owncast's style.
"""

from __future__ import annotations

from django.conf import settings

from apps.streams.live.selectors import live_stream_by_slug
from apps.streams.models import LiveStream


def stream_slug(slug: str | None) -> str:
    """The slug a base names: its own, or the default stream's at the root ("" for none)."""
    return slug if slug is not None else settings.OWNCAST_DEFAULT_STREAM


def stream_for(slug: str | None) -> LiveStream | None:
    """The stream of a base, whoever asks (admin and integration credentials decide)."""
    key = stream_slug(slug)
    return LiveStream.objects.filter(slug=key).first() if key else None


def public_stream_for(slug: str | None) -> LiveStream | None:
    """The stream of a base for an anonymous viewer: a public or unlisted one only
    (an unlisted stream's base, like its page's link, is the access)."""
    key = stream_slug(slug)
    return live_stream_by_slug(None, key) if key else None


def base_path(slug: str | None) -> str:
    """The path prefix of a base: `/owncast/<slug>` or "" at the root."""
    return f"/owncast/{slug}" if slug is not None else ""
