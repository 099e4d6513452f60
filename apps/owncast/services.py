"""Writes of the Owncast surface: each one a call to the native services it maps onto."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.chat import services as chat_services
from apps.chat.models import BanKind, ChatBan, ChatIdentity, ChatMessage
from apps.integrations.models import IntegrationToken
from apps.integrations.tokens import integration_token_chat_identity
from apps.owncast.models import ClientUserAgent, TokenLink
from apps.streams.live.services import live_stream_update
from apps.streams.models import LiveStream
from castcore.api.errors import ApiError

TITLE_MAX_LENGTH = LiveStream._meta.get_field("title").max_length or 200


def stream_title_set(
    *, stream: LiveStream, title: object, actor: Any, request: HttpRequest | None = None
) -> LiveStream:
    """Owncast's stream title is the live stream's title (the live streams app's service)."""
    if not isinstance(title, str):
        raise ApiError("validation.invalid", {"field": "value"})
    if len(title) > TITLE_MAX_LENGTH:
        raise ApiError("validation.max_length", {"field": "value", "max_length": TITLE_MAX_LENGTH})
    with transaction.atomic():
        return live_stream_update(actor=actor, stream=stream, request=request, title=title)


def token_bind(*, token: IntegrationToken, stream: LiveStream | None) -> TokenLink:
    """Bind `token` to `stream`'s Owncast base (None: every stream's), models.TokenLink."""
    link, _ = TokenLink.objects.update_or_create(
        token=token, defaults={"bound": stream is not None, "stream": stream}
    )
    return link


def bot_message_send(
    *,
    stream: LiveStream,
    token: IntegrationToken,
    body: object,
    address: str | None,
    as_name: object = None,
) -> ChatMessage:
    """A chat message from the token's bot, checked, rate limited and stored by the chat
    app. `as_name` (Owncast 0.0.6's `user`) is the name it shows, checked as any display
    name is (a forbidden one is refused); the bot stays its author."""
    # The same bot the chat API writes as (apps.integrations.tokens).
    identity = integration_token_chat_identity(token)
    message = chat_services.message_prepare(
        stream=stream, identity=identity, body=body, address=address
    )
    if as_name is not None and as_name != "":
        message.author_name = chat_services.validate_name(as_name, stream=stream)
    return chat_services.messages_store([message])[0]


def user_set_enabled(
    *,
    stream: LiveStream,
    identity: ChatIdentity,
    enabled: bool,
    actor: Any,
    request: HttpRequest | None = None,
) -> None:
    """Owncast's enable/disable of a chat user on a stream, as the chat app's ban (their
    messages hidden, their sockets closed) and the lift of their bans."""
    if enabled:
        for ban in ChatBan.objects.filter(ChatBan.active_q(), stream=stream, identity=identity):
            chat_services.ban_lift(ban=ban, actor=actor, request=request)
    elif not ChatBan.objects.filter(ChatBan.active_q(), stream=stream, identity=identity).exists():
        chat_services.identity_ban(
            stream=stream,
            identity=identity,
            kind=BanKind.BAN,
            actor=actor,
            reason="disabled through Owncast's API",
            hide_messages=True,
            request=request,
        )


def client_user_agent_record(*, connection_id: int, user_agent: str) -> None:
    """Keep an Owncast chat socket's User-Agent (cut to ClientUserAgent.MAX_LENGTH) for the
    clients lists; the row goes with the chat app's connection."""
    ClientUserAgent.objects.update_or_create(
        connection_id=connection_id,
        defaults={"user_agent": user_agent[: ClientUserAgent.MAX_LENGTH]},
    )
