"""Chat's live events: the group, the channel-layer payload and the client frames.

One group per stream, `chat.<stream_id>`. Services publish a ChatEvent after
their transaction commits; every web process's chat sockets get it through
castcore.fanout and forward its `frame` (JSON text, encoded once here) to the
sockets in its `audience`.

Client frames keep Owncast's event types and field names (CHAT, SYSTEM,
NAME_CHANGE, USER_JOINED, CHAT_ACTION, VISIBILITY-UPDATE,
CONNECTED_USER_INFO), so the Owncast-compatible socket can be a thin mapping.
CastCore adds BACKLOG (the recent messages, one frame on connect) and ERROR
(`{"type": "ERROR", "error": {code, params, level}}`, the API's envelope).
Message ids are integers here (Owncast's are strings).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, TypedDict

from django.db import transaction
from django.utils import timezone

from apps.chat import conf
from apps.chat.models import ChatIdentity, ChatMessage, MessageKind
from castcore import fanout
from castcore.events import group_name, publish

CHAT = "CHAT"
SYSTEM = "SYSTEM"
NAME_CHANGE = "NAME_CHANGE"
USER_JOINED = "USER_JOINED"
CHAT_ACTION = "CHAT_ACTION"
VISIBILITY_UPDATE = "VISIBILITY-UPDATE"
CONNECTED_USER_INFO = "CONNECTED_USER_INFO"
BACKLOG = "BACKLOG"
ERROR = "ERROR"

# Who of a stream's sockets a frame is for.
Audience = Literal["all", "moderators"]


def chat_group(stream_id: int) -> str:
    return group_name("chat", stream_id)


class ChatEvent(TypedDict):
    type: Literal["chat.event"]
    audience: Audience
    frame: str  # the client frame, JSON
    message_id: int | None  # CHAT/SYSTEM: sockets skip what their backlog had
    connection_id: int | None  # for that socket only (ChatConnection id), or None: all


class ChatKickEvent(TypedDict):
    """An identity was timed out or banned: its open sockets on the stream close."""

    type: Literal["chat.kick"]
    identity_id: int
    address: str | None  # sockets from this address close too (a ban by address)
    code: str  # chat.banned | chat.timed_out


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def user_info(identity: ChatIdentity, *, moderator: bool = False) -> dict[str, Any]:
    """Owncast's `user` object: what everyone may know of an identity (never its address)."""
    return {
        "id": identity.pk,
        "displayName": identity.display_name,
        "displayColor": identity.display_color,
        "createdAt": _time(identity.created_at),
        "previousNames": list(identity.previous_names),
        "authenticated": identity.user_id is not None,
        "isBot": False,
        "scopes": ["MODERATOR"] if moderator else [],
    }


def system_user() -> dict[str, Any]:
    return {"id": None, "displayName": conf.SYSTEM_NAME, "displayColor": 0, "isBot": True}


def message_frame(message: ChatMessage) -> dict[str, Any]:
    """A CHAT or SYSTEM frame. The author's current colour; the name it was sent under."""
    if message.kind == MessageKind.SYSTEM or message.author is None:
        user = system_user()
    else:
        user = {**user_info(message.author), "displayName": message.author_name}
    return {
        "type": SYSTEM if message.kind == MessageKind.SYSTEM else CHAT,
        "id": message.pk,
        "timestamp": _time(message.sent_at),
        "user": user,
        "body": message.body_html,
        "visible": message.visible,
    }


# Set by `collecting()`: events of the current call go here (after commit) instead of
# being published from this thread.
_collector: ContextVar[list[tuple[str, dict[str, Any]]] | None] = ContextVar(
    "chat_event_collector", default=None
)


@contextlib.contextmanager
def collecting() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Collect the (group, event) pairs a service call publishes, once its transaction commits.

    For the chat socket: its service calls run on the one database thread, and a publish
    from there waits for the event loop (async_to_sync) while the loop is busy fanning
    out, so every send queued behind the previous one's publish. The socket publishes
    what was collected from the loop itself instead, and the thread moves on.
    """
    collected: list[tuple[str, dict[str, Any]]] = []
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


def _publish(group: str, event: dict[str, Any]) -> None:
    collected = _collector.get()
    if collected is None:
        publish(group, event)
    else:
        transaction.on_commit(lambda: collected.append((group, event)))


async def send_collected(collected: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish collected events in order: the consecutive ones of a group in one message
    (castcore.fanout.send_together), so a writer's batch is one PUBLISH, and its sockets
    get its messages in one pass rather than the first alone and the rest in the next."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    for group, together in itertools.groupby(collected, key=operator.itemgetter(0)):
        await fanout.send_together(layer, group, [event for _, event in together])


def publish_frame(
    stream_id: int,
    frame: dict[str, Any],
    *,
    audience: Audience = "all",
    message_id: int | None = None,
    connection_id: int | None = None,
) -> None:
    """Publish `frame` to the stream's sockets (to one: `connection_id`) once the current
    transaction commits."""
    event: ChatEvent = {
        "type": "chat.event",
        "audience": audience,
        "frame": encode(frame),
        "message_id": message_id,
        "connection_id": connection_id,
    }
    _publish(chat_group(stream_id), dict(event))


def publish_kick(stream_id: int, *, identity_id: int, address: str | None, code: str) -> None:
    event: ChatKickEvent = {
        "type": "chat.kick",
        "identity_id": identity_id,
        "address": address,
        "code": code,
    }
    _publish(chat_group(stream_id), dict(event))


def publish_revisit(stream_id: int) -> None:
    """The stream's visibility changed: each socket checks it may still read, or closes."""
    _publish(chat_group(stream_id), {"type": "chat.revisit"})


def error_frame(code: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": ERROR, "error": {"code": code, "params": params or {}, "level": "error"}}


def now_text() -> str:
    return _time(timezone.now())
