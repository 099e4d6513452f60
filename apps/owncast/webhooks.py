"""Owncast's webhook events, made from CastCore's domain events.

A webhook in Owncast's format (made through a stream's Owncast admin API, or `format:
owncast` natively) subscribes to Owncast's event names and receives each event as Owncast
sends it, `{"type": ..., "eventData": {...}}` (Owncast's core/webhooks), delivered by
CastCore's webhook machinery (apps.integrations.webhooks): outbox, Standard Webhooks
signature headers, retries. This module only names and shapes: which domain event is which
Owncast event (`owncast_event_type`) and the body (`owncast_document`).

The body is made at each attempt from the event's payload, with the rows it names read
then (a message's HTML and visibility, a user's colour and previous names, a stream's
summary): Owncast's payloads carry more than CastCore's domain events do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apps.chat.models import ChatIdentity, ChatMessage
from apps.owncast.presenters import owncast_time, owncast_user
from apps.streams.models import LiveStream
from castcore.outbox.models import OutboxEvent

CHAT = "CHAT"
NAME_CHANGE = "NAME_CHANGE"
USER_JOINED = "USER_JOINED"
STREAM_STARTED = "STREAM_STARTED"
STREAM_STOPPED = "STREAM_STOPPED"
STREAM_TITLE_UPDATED = "STREAM_TITLE_UPDATED"
VISIBILITY_UPDATE = "VISIBILITY-UPDATE"

#: The Owncast event names a webhook may subscribe to.
OWNCAST_EVENT_TYPES = (
    CHAT, NAME_CHANGE, USER_JOINED, STREAM_STARTED, STREAM_STOPPED, STREAM_TITLE_UPDATED,
    VISIBILITY_UPDATE,
)  # fmt: skip

# Domain events that are one Owncast event whatever their payload.
_BY_TYPE = {
    "chat.name_change": NAME_CHANGE,
    "chat.user_joined": USER_JOINED,
    "live_stream.started": STREAM_STARTED,
    "live_stream.ended": STREAM_STOPPED,
    "live_stream.title_updated": STREAM_TITLE_UPDATED,
}


def owncast_event_type(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The Owncast event a domain event is, or None (Owncast has no such event)."""
    if event_type == "chat.message":
        # Owncast sends its webhooks CHAT for users' messages; system messages are not sent.
        return CHAT if payload.get("kind") == "chat" else None
    if event_type == "chat.moderation":
        return VISIBILITY_UPDATE if payload.get("action") in ("hide", "show") else None
    return _BY_TYPE.get(event_type)


def _identity(payload: Mapping[str, Any], key: str) -> ChatIdentity | None:
    identity_id = payload.get(key)
    if not isinstance(identity_id, int):
        return None
    return ChatIdentity.objects.filter(pk=identity_id).first()


def _chat(event: OutboxEvent) -> dict[str, Any]:
    payload = event.payload
    message = (
        ChatMessage.objects.select_related("author").filter(pk=payload.get("message_id")).first()
    )
    author = message.author if message is not None else _identity(payload, "author_id")
    user = owncast_user(author, name=payload.get("author_name", ""))
    user["displayName"] = payload.get("author_name") or user["displayName"]  # as sent
    return {
        "user": user,
        "body": message.body_html if message is not None else "",
        "rawBody": payload.get("body", ""),
        "id": str(payload.get("message_id", "")),
        "visible": message.visible if message is not None else False,
        "timestamp": owncast_time(payload.get("sent_at")),
    }


def _user_event(event: OutboxEvent) -> dict[str, Any]:
    """NAME_CHANGE and USER_JOINED: Owncast's user event (`newName` for a rename)."""
    payload = event.payload
    renamed = event.event_type == "chat.name_change"
    name = payload.get("new_name" if renamed else "display_name", "")
    data: dict[str, Any] = {
        "type": NAME_CHANGE if renamed else USER_JOINED,
        "id": event.message_id,
        "timestamp": owncast_time(event.created_at),
        "user": owncast_user(_identity(payload, "identity_id"), name=name),
    }
    if renamed:
        data["newName"] = name
    return data


def _visibility(event: OutboxEvent) -> dict[str, Any]:
    payload = event.payload
    return {
        "type": VISIBILITY_UPDATE,
        "id": event.message_id,
        "timestamp": owncast_time(event.created_at),
        "ids": [str(message_id) for message_id in payload.get("ids", [])],
        "visible": payload.get("action") == "show",
    }


def _stream_status(event: OutboxEvent) -> dict[str, Any]:
    """Owncast's stream events: the server's (here the stream's) name, summary and title."""
    payload = event.payload
    stream = LiveStream.objects.filter(pk=payload.get("live_stream_id")).first()
    return {
        "id": event.message_id,
        "name": stream.name if stream is not None else payload.get("name", ""),
        "summary": stream.summary if stream is not None else "",
        "streamTitle": stream.title if stream is not None else payload.get("title", ""),
        "timestamp": owncast_time(event.created_at),
    }


_BUILDERS: dict[str, Callable[[OutboxEvent], dict[str, Any]]] = {
    CHAT: _chat,
    NAME_CHANGE: _user_event,
    USER_JOINED: _user_event,
    VISIBILITY_UPDATE: _visibility,
    STREAM_STARTED: _stream_status,
    STREAM_STOPPED: _stream_status,
    STREAM_TITLE_UPDATED: _stream_status,
}


def owncast_document(event: OutboxEvent) -> dict[str, Any]:
    """The body of `event` for an Owncast-format webhook: `{"type", "eventData"}`.

    Only called for events `owncast_event_type` names (the webhook wanted it)."""
    kind = owncast_event_type(event.event_type, event.payload)
    if kind is None:
        raise ValueError(f"{event.event_type} is no Owncast event")
    return {"type": kind, "eventData": _BUILDERS[kind](event)}
