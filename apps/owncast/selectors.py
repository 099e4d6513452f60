"""Reads of the Owncast surface."""

from __future__ import annotations

from apps.owncast.models import StreamOwncastSettings
from apps.streams.models import LiveStream


def owncast_settings(stream: LiveStream) -> StreamOwncastSettings:
    """The stream's Owncast-only settings; the defaults (unsaved) until one is set."""
    found = StreamOwncastSettings.objects.filter(stream=stream).first()
    return found if found is not None else StreamOwncastSettings(stream=stream)
