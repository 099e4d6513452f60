"""WS /api/v1/ws/chat/<stream>: a live stream's chat (the stream's id or slug).

Who: a signed-in user (`Authorization: Bearer …` or `?token=<JWT>`, castcore.ws_auth;
or `?ticket=…`, what a page signed in with a session gets: apps.chat.tickets) chats
as themselves; an anonymous viewer sends the chat token it was given by
`POST /api/v1/live-streams/<id>/chat/register` as `?access_token=…` (masked in the
access log like `token`). Without either, a public stream's chat is read-only.
Refusals: 4404 no such stream, 4401 a private stream without a user or a chat
token that is not valid, 4403 banned (on connect, or when banned while connected), or
the stream turned private and this socket may no longer read it (on its next send, or
at once: apps.chat.signals).

On connect: CONNECTED_USER_INFO (the identity, whether it moderates, the stream's
chat rules), then BACKLOG (recent visible messages, all for moderators; with
`?since=<id>`, everything after that id: what a reconnecting client missed, with
the ids hidden and shown again since its last message, `hidden` and `restored`, and
`truncated: true` when it missed more than a client should catch up on: then
`messages` is the recent backlog and the client starts its list over), then live
events (apps.chat.events) in the order the group received them.

Client frames:
  {"type": "CHAT", "body": "…"}
  {"type": "NAME_CHANGE", "newName": "…"}
  moderators: {"type": "HIDE" | "SHOW", "ids": [..]},
              {"type": "BAN" | "TIMEOUT", "userId": <identity id>, "seconds": n,
               "reason": "…", "hideMessages": bool}
A refused frame is answered with an ERROR frame to this socket only
({"type": "ERROR", "error": {"code": "chat.rate_limited", "params": {...}}});
nothing is stored or broadcast for it. Bans, modes and moderator rights are read
from the database on every frame, not remembered from connect().
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import HttpRequest

from apps.chat import conf, events, selectors, services, writer
from apps.chat.models import ChatIdentity
from apps.chat.tickets import user_for_ticket
from apps.streams.models import LiveStream
from castcore import fanout, json_depth
from castcore.api.errors import ApiError
from castcore.api.filters import MAX_ID, parse_id
from castcore.client_ip import client_ip
from castcore.ws import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    TextFrames,
    refuse,
    send_text_frames,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A client frame larger than this is refused unread: a body is at most
# MAX_MESSAGE_LENGTH characters, 4 bytes each in UTF-8, plus the frame around it.
MAX_FRAME_BYTES = conf.MAX_MESSAGE_LENGTH * 4 + 1024


def scope_address(scope: dict[str, Any]) -> str | None:
    """The client's address by castcore.client_ip's rule (trusted proxies' X-Forwarded-For)."""
    request = HttpRequest()
    client = scope.get("client")
    if client:
        request.META["REMOTE_ADDR"] = client[0]
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            request.META["HTTP_X_FORWARDED_FOR"] = value.decode("latin-1")
    return client_ip(request)


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _open(
    key: str,
    user: Any,
    credentials: dict[str, str],
    address: str | None,
    since_id: int | None,
    with_backlog: bool = True,
) -> tuple[Any, LiveStream, ChatIdentity | None, int | None, bool, list[str]]:
    """Everything connect() reads: the user, the stream, the identity, its presence, the
    backlog (none for a client that reads it another way: `with_backlog`)."""
    stream = selectors.stream_by_key(key)
    if stream is None:
        raise _Refused(CLOSE_NOT_FOUND)
    signed_in = bool(getattr(user, "is_authenticated", False))
    token = credentials.get("access_token")
    if not signed_in and credentials.get("ticket"):
        user = user_for_ticket(credentials["ticket"])
        if user is None:
            raise _Refused(CLOSE_UNAUTHENTICATED)
        signed_in = True
    if not selectors.may_read(user if signed_in else None, stream):
        raise _Refused(CLOSE_UNAUTHENTICATED if not signed_in else CLOSE_FORBIDDEN)
    identity: ChatIdentity | None = None
    if signed_in:
        identity = services.identity_for_user(user)
    elif token:
        identity = selectors.identity_by_token(token)
        if identity is None:
            raise _Refused(CLOSE_UNAUTHENTICATED)
    moderator = selectors.may_moderate(user, stream) if signed_in else False
    connection_id = None
    if identity is not None:
        if selectors.active_ban(stream, identity, address, moderator=moderator) is not None:
            raise _Refused(CLOSE_FORBIDDEN)
        connection, _ = services.connection_open(stream=stream, identity=identity, address=address)
        connection_id = connection.pk
    chat_settings = selectors.settings_for(stream)
    info = {
        "type": events.CONNECTED_USER_INFO,
        "user": events.user_info(identity, moderator=moderator) if identity else None,
        "moderator": moderator,
        "stream": {"id": stream.pk, "slug": stream.slug},
        "settings": {
            "slowModeSeconds": chat_settings.slow_mode_seconds,
            "signedInOnly": chat_settings.signed_in_only,
            "closedWhenOffline": chat_settings.closed_when_offline,
            "maxLength": conf.MAX_MESSAGE_LENGTH,
        },
    }
    backlog: dict[str, Any] = {"type": events.BACKLOG, "since": since_id}
    if not with_backlog:
        messages = []
    elif since_id is None:
        messages = selectors.backlog(stream, moderator=moderator)
    else:
        missed = selectors.reconnect_backlog(stream, moderator=moderator, since_id=since_id)
        messages = missed.messages
        backlog.update(hidden=missed.hidden, restored=missed.restored, truncated=missed.truncated)
    backlog["messages"] = [events.message_frame(message) for message in messages]
    return (
        user,
        stream,
        identity,
        connection_id,
        moderator,
        [
            events.encode(info),
            events.encode(backlog),
            json.dumps([message.pk for message in messages]),
        ],
    )


async def _published(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service call on the database thread; publish its events from the event loop.

    (apps.chat.events.collecting says why.)
    """

    def call() -> tuple[T, list[tuple[str, dict[str, Any]]]]:
        with events.collecting() as collected:
            result = function(*args, **kwargs)
        return result, collected

    # Each frame of one socket is still handled after the last.
    result, collected = await writer.in_thread(call)
    await events.send_collected(collected)
    return result


class _Presence:
    """This process's open chat sockets: their presence rows, renewed in one query a minute."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, connection_id: int) -> None:
        self.ids.add(connection_id)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._renew_loop())

    def discard(self, connection_id: int) -> None:
        self.ids.discard(connection_id)

    async def _renew_loop(self) -> None:
        while self.ids:
            await asyncio.sleep(selectors.PRESENCE_RENEW_SECONDS)
            try:
                await database_sync_to_async(services.connections_renew)(
                    connection_ids=list(self.ids)
                )
            except Exception:
                logger.warning("could not renew chat presence", exc_info=True)


_presence: dict[asyncio.AbstractEventLoop, _Presence] = {}


def _presence_here() -> _Presence:
    loop = asyncio.get_running_loop()
    if loop not in _presence:
        _presence[loop] = _Presence()
    return _presence[loop]


class ChatConsumer(fanout.HeldUntilOpened, AsyncWebsocketConsumer):
    """One socket on one stream's chat."""

    channel_layer_alias = fanout.NO_CHANNEL_LAYER
    connection_id: int | None = None
    identity: ChatIdentity | None = None
    stream: LiveStream | None = None
    moderator = False
    user: Any = None
    # Ids of the backlog's messages: their events, if they arrive after it, are not sent twice.
    backlog_ids: set[int] | None = None

    async def connect(self) -> None:
        key = str(self.scope["url_route"]["kwargs"]["stream"])
        query = _query(self.scope)
        credentials = {
            name: query[name][-1] for name in ("access_token", "ticket") if query.get(name)
        }
        since_raw = (query.get("since") or [""])[-1]
        since_id = parse_id(since_raw) if since_raw else None
        self.address = scope_address(self.scope)
        user = self.scope.get("user")
        # Lookup of the group's name needs the stream's id: for a slug, find it first.
        try:
            stream_id = await self._stream_id(key)
            await self.subscribe(events.chat_group(stream_id))
            (
                self.user,
                self.stream,
                self.identity,
                self.connection_id,
                self.moderator,
                opening,
            ) = await _published(
                _open, key, user, credentials, self.address, since_id, self.sends_backlog
            )
        except _Refused as refusal:
            await self.unsubscribe()
            await self.refuse(refusal.code)
            return
        if self.connection_id is not None:
            _presence_here().add(self.connection_id)
        self.backlog_ids = set(json.loads(opening.pop()))
        await self.accept()
        await self.send_opening(opening)
        await self.opened()

    #: Whether the opening has the BACKLOG (a peer protocol's client may read it elsewhere).
    sends_backlog = True

    async def refuse(self, code: int) -> None:
        """Refuse the socket in connect() (castcore.ws.refuse; a peer protocol adds its frame)."""
        await refuse(self, code)

    async def send_opening(self, texts: list[str]) -> None:
        """Send CONNECTED_USER_INFO and BACKLOG (a peer protocol's socket maps them)."""
        for text in texts:
            await self.send(text_data=text)

    @database_sync_to_async
    def _stream_id(self, key: str) -> int:
        stream = selectors.stream_by_key(key)
        if stream is None:
            raise _Refused(CLOSE_NOT_FOUND)
        return stream.pk

    async def disconnect(self, code: int) -> None:
        await self.unsubscribe()
        if self.connection_id is not None:
            _presence_here().discard(self.connection_id)
            connection_id, self.connection_id = self.connection_id, None
            with contextlib.suppress(Exception):
                await database_sync_to_async(services.connection_close)(connection_id=connection_id)

    # --- from the client

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            # Channels closes the sync thread's stale database connections before every
            # message: a trip to that thread and back for each frame a client sends, on
            # a busy chat's event loop. This consumer's database work runs on the chat
            # threads or through database_sync_to_async, which do that per call themselves.
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self._error("chat.too_long", {"max_length": conf.MAX_MESSAGE_LENGTH})
            return
        try:
            # Bounded nesting: json.loads raises RecursionError (not a ValueError) on
            # a frame of 1,500 nested brackets, well within MAX_FRAME_BYTES.
            frame = json_depth.loads(text_data)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._error("request.malformed")
            return
        handler = _HANDLERS.get(frame["type"])
        if handler is None:
            await self._error("chat.unknown_type", {"type": frame["type"][:40]})
            return
        try:
            await handler(self, frame)
        except ApiError as error:
            await self._error(error.code, error.params)
        except Exception:
            logger.exception("chat frame %s failed", frame["type"][:40])
            await self._error("server.error")

    async def _error(self, code: str, params: dict[str, Any] | None = None) -> None:
        await self.send(text_data=events.encode(events.error_frame(code, params)))

    def _identity(self) -> ChatIdentity:
        if self.identity is None:
            raise ApiError("chat.needs_registration", status_code=401)
        return self.identity

    async def _chat(self, frame: dict[str, Any]) -> None:
        identity = self._identity()
        assert self.stream is not None
        # Checked and stored with the other sends of its stream (apps.chat.writer).
        pending = writer.Pending(self.user, identity, frame.get("body"), self.address)
        try:
            await writer.writer_for(self.stream).send(pending)
        except writer.NotReadable:
            await self._error("chat.forbidden")
            await self.unsubscribe()
            await self.close(code=CLOSE_FORBIDDEN)

    async def _rename(self, frame: dict[str, Any]) -> None:
        identity = self._identity()
        assert self.stream is not None
        stream, user, address = self.stream, self.user, self.address

        def rename() -> None:
            services.identity_rename(
                identity=identity,
                stream=stream,
                new_name=frame.get("newName"),
                address=address,
                moderator=selectors.may_moderate(user, stream),
            )

        await _published(rename)

    @database_sync_to_async
    def _moderator_or_refuse(self) -> Any:
        user = self.user
        assert self.stream is not None
        if user is None or not getattr(user, "is_authenticated", False):
            raise ApiError("chat.not_moderator", status_code=403)
        user.refresh_from_db(fields=["is_active", "role"])
        if not selectors.may_moderate(user, self.stream):
            raise ApiError("chat.not_moderator", status_code=403)
        return user

    async def _visibility(self, frame: dict[str, Any]) -> None:
        user = await self._moderator_or_refuse()
        ids = frame.get("ids")
        if not isinstance(ids, list) or not all(_is_id(item) for item in ids):
            raise ApiError("validation.invalid", {"field": "ids"})
        assert self.stream is not None
        await _published(
            services.messages_set_visibility,
            stream=self.stream,
            message_ids=ids[:500],
            visible=frame["type"] == "SHOW",
            actor=user,
        )

    async def _ban(self, frame: dict[str, Any]) -> None:
        user = await self._moderator_or_refuse()
        target_id, seconds = frame.get("userId"), frame.get("seconds")
        if not _is_id(target_id):
            raise ApiError("validation.invalid", {"field": "userId"})
        if seconds is not None and (not isinstance(seconds, int) or not 1 <= seconds <= 2**31):
            raise ApiError("validation.invalid", {"field": "seconds"})
        reason = frame.get("reason")
        assert self.stream is not None
        stream = self.stream

        def ban() -> None:
            target = ChatIdentity.objects.filter(pk=target_id).first()
            if target is None:
                raise ApiError("not_found", {"field": "userId"}, status_code=404)
            services.identity_ban(
                stream=stream,
                identity=target,
                kind="timeout" if frame["type"] == "TIMEOUT" else "ban",
                duration_seconds=seconds or (300 if frame["type"] == "TIMEOUT" else None),
                reason=reason if isinstance(reason, str) else "",
                hide_messages=frame.get("hideMessages") is True,
                actor=user,
            )

        await _published(ban)

    # --- from the group

    async def forward(self, delivery: fanout.Delivery) -> None:
        plan = _plan(delivery)
        if plan.control:
            for event in delivery.events:
                if event["type"] == "chat.revisit" and not await self._may_still_read():
                    await self._error("chat.forbidden")
                    await self.unsubscribe()
                    await self.close(code=CLOSE_FORBIDDEN)
                    return
                if event["type"] == "chat.kick" and self._kicked(event):
                    await self._error(event["code"])
                    await self.unsubscribe()
                    await self.close(code=CLOSE_FORBIDDEN)
                    return
        frames = self.frames_for(delivery, plan)
        if frames.texts:
            await send_text_frames(self, frames)

    #: Sockets of one kind (and moderator or not) send the same frames of a delivery.
    frames_kind = "chat"

    def render(self, texts: list[str]) -> TextFrames:
        """The frames this socket's client reads for these client frames (JSON texts)."""
        return TextFrames.of(texts)

    def frames_for(self, delivery: fanout.Delivery, plan: _Plan | None = None) -> TextFrames:
        events_ = delivery.events
        plan = plan or _plan(delivery)
        if plan.personal or (
            self.backlog_ids and not self.backlog_ids.isdisjoint(plan.message_ids)
        ):
            # Stored and read into this socket's backlog before it was published (sent
            # once), or for one socket only: this socket's own frames.
            skip = self.backlog_ids or set()
            frames = self.render(_texts(events_, self.moderator, skip, self.connection_id))
            if self.backlog_ids:
                self.backlog_ids -= plan.message_ids
            return frames
        # The same frames for every socket of a kind: encoded once per delivery (looked
        # up before a builder is made: this runs for each of a thousand sockets).
        kind = (self.frames_kind, self.moderator)
        shared = delivery.shared.get(kind)
        if shared is None:
            shared = delivery.shared[kind] = self.render(
                _texts(events_, self.moderator, frozenset(), None)
            )
        return cast(TextFrames, shared)

    @database_sync_to_async
    def _may_still_read(self) -> bool:
        assert self.stream is not None
        selectors.forget_send_rules(self.stream.pk)
        if self.user is not None and getattr(self.user, "is_authenticated", False):
            self.user.refresh_from_db(fields=["is_active", "role"])
        return selectors.may_still_read(self.user, self.stream)

    def _kicked(self, event: dict[str, Any]) -> bool:
        if self.identity is not None and event["identity_id"] == self.identity.pk:
            return True
        # A ban by address closes that address's other identities too (moderators aside).
        return bool(event["address"]) and event["address"] == self.address and not self.moderator


@dataclass(frozen=True)
class _Plan:
    """What a delivery's events ask of each socket, read once per delivery (by the first
    socket; the fan-out pass then costs the others a few attribute reads each)."""

    control: bool  # a revisit or a kick: each socket checks whether it must close
    personal: bool  # a frame for one connection: each socket picks its own frames
    message_ids: frozenset[int]  # of CHAT/SYSTEM events: a socket's backlog may have them


def _plan(delivery: fanout.Delivery) -> _Plan:
    plan = delivery.shared.get(_Plan)
    if plan is None:
        events_ = delivery.events
        plan = delivery.shared[_Plan] = _Plan(
            control=any(event["type"] in ("chat.revisit", "chat.kick") for event in events_),
            personal=any(event.get("connection_id") is not None for event in events_),
            message_ids=frozenset(
                event["message_id"] for event in events_ if event.get("message_id") is not None
            ),
        )
    return plan


def _is_id(value: object) -> TypeGuard[int]:
    # Bounded by what a BIGINT holds: a larger one makes the driver raise OverflowError.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _texts(
    events_: list[dict[str, Any]],
    moderator: bool,
    skip: set[int] | frozenset[int],
    connection_id: int | None,
) -> list[str]:
    """The client frames of `events_` for a socket: its audience, not in its backlog, and
    either for every socket or for its connection."""
    return [
        event["frame"]
        for event in events_
        if event["type"] == "chat.event"
        and (event["audience"] == "all" or moderator)
        and event.get("message_id") not in skip
        and event.get("connection_id") in (None, connection_id)
    ]


_HANDLERS = {
    "CHAT": ChatConsumer._chat,
    "NAME_CHANGE": ChatConsumer._rename,
    "HIDE": ChatConsumer._visibility,
    "SHOW": ChatConsumer._visibility,
    "BAN": ChatConsumer._ban,
    "TIMEOUT": ChatConsumer._ban,
}
