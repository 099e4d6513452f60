"""Reads of the Owncast surface."""

from __future__ import annotations

from apps.owncast.models import StreamOwncastSettings
from apps.streams.models import LiveStream


def owncast_settings(stream: LiveStream) -> StreamOwncastSettings:
    """The stream's Owncast-only settings; the defaults (unsaved) until one is set."""
    found = StreamOwncastSettings.objects.filter(stream=stream).first()
    return found if found is not None else StreamOwncastSettings(stream=stream)


def join_messages_enabled(stream_id: int) -> bool:
    """Whether the stream's Owncast chat announces joins (USER_JOINED); on until set off."""
    enabled = (
        StreamOwncastSettings.objects.filter(stream_id=stream_id)
        .values_list("chat_join_messages", flat=True)
        .first()
    )
    return enabled is not False


def forbidden_names(stream_id: int) -> list[str]:
    """The names set through Owncast's `chat/forbiddenusernames` for the stream: its chat
    refuses them besides the instance's list (registered with the chat app in apps.py)."""
    extra = (
        StreamOwncastSettings.objects.filter(stream_id=stream_id)
        .values_list("extra", flat=True)
        .first()
    )
    names = (extra or {}).get("forbiddenUsernames") or []
    return [name for name in names if isinstance(name, str)]
