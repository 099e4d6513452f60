"""The chat app's client frames as Owncast's chat events.

The chat app already speaks Owncast's event types and field names (apps.chat.events);
what differs is that Owncast's ids are strings and every event carries one. So:
- ids (of messages, users, the VISIBILITY-UPDATE list) become strings;
- an event without an id (NAME_CHANGE, USER_JOINED, CHAT_ACTION, VISIBILITY-UPDATE, a
  message sent to one client) gets a fresh one, as Owncast gives each event its own;
- CastCore's own frames (BACKLOG) are not sent, nor USER_JOINED when the stream's join
  messages are off; ERROR frames are (an Owncast client
  ignores a type it does not know).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from apps.chat import events
from apps.chat.models import ChatMessage

PING = "PING"
PONG = "PONG"
CHAT_DISABLED = "CHAT_DISABLED"
ERROR_NEEDS_REGISTRATION = "ERROR_NEEDS_REGISTRATION"
ERROR_USER_DISABLED = "ERROR_USER_DISABLED"

_DROPPED = {events.BACKLOG}


def new_event_id() -> str:
    # Owncast's ids are 9-character shortids; anything unique per event will do.
    return secrets.token_urlsafe(7)[:9]


def _text_id(value: Any) -> str | None:
    return None if value is None else str(value)


def owncast_user(user: dict[str, Any] | None) -> dict[str, Any] | None:
    if user is None:
        return None
    mapped = dict(user)
    if "id" in mapped:
        mapped["id"] = _text_id(mapped["id"])
    return mapped


def owncast_event(frame: dict[str, Any], *, join_messages: bool = True) -> dict[str, Any] | None:
    """`frame` (a chat client frame) as Owncast sends it, or None when Owncast has none
    (USER_JOINED too when the stream's `chat/joinmessagesenabled` is off)."""
    kind = frame.get("type")
    if kind in _DROPPED or (kind == events.USER_JOINED and not join_messages):
        return None
    event = dict(frame)
    if kind != events.ERROR:
        event["id"] = _text_id(event.get("id")) or new_event_id()
    if "user" in event:
        event["user"] = owncast_user(event["user"])
    if kind == events.VISIBILITY_UPDATE:
        event["ids"] = [str(item) for item in event.get("ids", [])]
    return event


def owncast_text(text: str, *, join_messages: bool = True) -> str | None:
    """A chat frame's JSON text as Owncast's event's JSON text (None: nothing to send)."""
    event = owncast_event(json.loads(text), join_messages=join_messages)
    return events.encode(event) if event is not None else None


def message_event(message: ChatMessage) -> dict[str, Any]:
    """A stored message as Owncast's chat history lists it (a CHAT or SYSTEM event)."""
    event = owncast_event(events.message_frame(message))
    assert event is not None
    return event
