"""WS /ws and /owncast/<slug>/ws?accessToken=…: a stream's chat as Owncast's clients speak it.

The chat app's socket (apps.chat.consumers.ChatConsumer) with Owncast's framing: the
same services store, moderate and rate-limit what is sent, and the same group carries
what everyone sends, so a native client and an Owncast one see each other's messages,
hides, renames and joins. Here only the edges differ:

- connect: `?accessToken=` (an anonymous chat identity's token, from
  /api/chat/register) is required. Without a valid one the socket gets
  `{"type": "ERROR_NEEDS_REGISTRATION"}` and is closed (4401); a banned or timed-out
  identity `ERROR_USER_DISABLED` (4403); a stream whose Owncast chat is switched off
  `CHAT_DISABLED` (4403). An unknown or private stream: closed with 4404.
- opening: CONNECTED_USER_INFO (`user`, and `clientId`: the id the integrations API's
  system-message-to-one-client takes), then the stream's welcome message as SYSTEM when
  it has one; no BACKLOG (Owncast clients read GET /api/chat).
- events out: Owncast's shapes (apps.owncast.chat_events); the events of one delivery go
  in one frame, separated by newlines, as Owncast's server batches them.
- events in: CHAT and NAME_CHANGE as the chat socket takes them; PING is answered with
  PONG; several events in one frame, one per line, are taken in order. A CHAT is stored
  before it is broadcast (apps.chat.writer), and the stream's message lists wait for it
  (apps.owncast.chat_writes).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from apps.chat import events
from apps.chat.consumers import MAX_FRAME_BYTES, ChatConsumer
from apps.owncast import chat_events, chat_writes, resolver
from apps.owncast.selectors import join_messages_enabled, owncast_settings
from apps.owncast.services import client_user_agent_record
from castcore import json_depth
from castcore.fanout import Delivery
from castcore.ws import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED, TextFrames, refuse


@dataclass(frozen=True)
class _Admission:
    stream_id: int | None
    refusal: str | None = None
    welcome: str = ""


def _admit(slug: str | None) -> _Admission:
    # The token and bans are the chat socket's to check (connect() maps its refusals).
    stream = resolver.public_stream_for(slug)
    if stream is None:
        return _Admission(None)
    extra = owncast_settings(stream)
    if extra.chat_disabled:
        return _Admission(stream.pk, chat_events.CHAT_DISABLED)
    return _Admission(stream.pk, None, extra.welcome_message)


_REFUSAL_CODES = {
    chat_events.ERROR_NEEDS_REGISTRATION: CLOSE_UNAUTHENTICATED,
    chat_events.ERROR_USER_DISABLED: CLOSE_FORBIDDEN,
    chat_events.CHAT_DISABLED: CLOSE_FORBIDDEN,
}
# The chat socket's refusals, as Owncast tells its clients.
_REFUSAL_EVENTS = {
    CLOSE_UNAUTHENTICATED: chat_events.ERROR_NEEDS_REGISTRATION,
    CLOSE_FORBIDDEN: chat_events.ERROR_USER_DISABLED,
}


class OwncastChatConsumer(ChatConsumer):
    """One Owncast chat client on one stream's chat."""

    frames_kind = "owncast"
    sends_backlog = False  # Owncast clients read GET /api/chat
    welcome = ""
    join_messages = True  # the stream's `chat/joinmessagesenabled`, read as joins arrive

    async def connect(self) -> None:
        query = self.scope.get("query_string", b"").decode("latin-1")
        token = (parse_qs(query).get("accessToken") or [""])[-1]
        slug = self.scope["url_route"]["kwargs"].get("slug")
        admission = await database_sync_to_async(_admit)(slug)
        if admission.stream_id is None:
            await refuse(self, CLOSE_NOT_FOUND)
            return
        refusal = admission.refusal or (None if token else chat_events.ERROR_NEEDS_REGISTRATION)
        if refusal is not None:
            await self._refuse_with(refusal)
            return
        self.welcome = admission.welcome
        # Owncast's socket knows no other credential: a bearer or `?token=` the ASGI
        # middleware read is not used (the socket is exempt from the Origin check for it).
        self.scope["user"] = AnonymousUser()
        # The chat socket takes the stream by id and the token as `access_token`.
        self.scope["url_route"] = {"args": (), "kwargs": {"stream": str(admission.stream_id)}}
        self.scope["query_string"] = urlencode({"access_token": token}).encode()
        await super().connect()

    async def refuse(self, code: int) -> None:
        event = _REFUSAL_EVENTS.get(code)
        if event is None:
            await super().refuse(code)
        else:
            await self._refuse_with(event)

    async def _refuse_with(self, event: str) -> None:
        await self.accept()
        await self.send(text_data=events.encode({"type": event}))
        await self.close(code=_REFUSAL_CODES[event])

    async def send_opening(self, texts: list[str]) -> None:
        if self.connection_id is not None:
            # Before CONNECTED_USER_INFO: a client that has it finds itself in the lists.
            await database_sync_to_async(client_user_agent_record)(
                connection_id=self.connection_id, user_agent=_user_agent(self.scope)
            )
        info = json.loads(texts[0])
        await self.send(
            text_data=events.encode(
                {
                    "type": events.CONNECTED_USER_INFO,
                    "id": chat_events.new_event_id(),
                    "user": chat_events.owncast_user(info.get("user")),
                    "clientId": self.connection_id,
                }
            )
        )
        if self.welcome:
            await self.send(
                text_data=events.encode(
                    {
                        "type": events.SYSTEM,
                        "id": chat_events.new_event_id(),
                        "timestamp": events.now_text(),
                        "user": chat_events.owncast_user(events.system_user()),
                        "body": self.welcome,
                        "visible": True,
                    }
                )
            )

    async def forward(self, delivery: Delivery) -> None:
        joins = delivery.once(
            ("owncast", "has_join"), lambda: any(_is_join(event) for event in delivery.events)
        )
        if self.stream is not None and joins:
            # Read when a join arrives, not at connect: the admin may switch join messages
            # off while sockets are open. One read per delivery, shared by its sockets.
            key = ("owncast", "join_messages")
            if key not in delivery.shared:
                delivery.shared[key] = asyncio.ensure_future(
                    database_sync_to_async(join_messages_enabled)(self.stream.pk)
                )
            self.join_messages = await delivery.shared[key]
        await super().forward(delivery)

    def render(self, texts: list[str]) -> TextFrames:
        joins = self.join_messages
        mapped = [
            text
            for text in (chat_events.owncast_text(text, join_messages=joins) for text in texts)
            if text is not None
        ]
        return TextFrames.of(["\n".join(mapped)] if mapped else [])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await super().receive(text_data, bytes_data)  # the chat socket's refusal
            return
        for frame in _client_events(text_data):
            if isinstance(frame, dict) and frame.get("type") == chat_events.PING:
                await self.send(text_data=events.encode({"type": chat_events.PONG}))
            elif isinstance(frame, dict) and frame.get("type") == chat_events.PONG:
                continue
            elif isinstance(frame, dict) and frame.get("type") == events.CHAT and self.stream:
                # In flight until stored or refused: the stream's reads wait for it.
                async with chat_writes.chat_write(self.stream.pk):
                    await super().receive(text_data=json.dumps(frame))
            else:
                await super().receive(
                    text_data=frame if isinstance(frame, str) else json.dumps(frame)
                )


def _user_agent(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == b"user-agent":
            return str(value.decode("latin-1"))
    return ""


def _is_join(event: dict[str, Any]) -> bool:
    # A text search, not a parse: a message that merely says USER_JOINED costs one read.
    frame = event.get("frame")
    return isinstance(frame, str) and f'"{events.USER_JOINED}"' in frame


def _client_events(text: str) -> list[Any]:
    """The events of one client frame: one JSON object, or several, one per line.

    What cannot be parsed is passed on as its text, for the chat socket's own error.
    """
    try:
        return [json_depth.loads(text)]
    except ValueError:
        pass
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < 2:
        return [text]
    found: list[Any] = []
    for line in lines:
        try:
            found.append(json_depth.loads(line))
        except ValueError:
            found.append(line)
    return found
