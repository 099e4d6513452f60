"""Reads of the chat app, and its access rules in one place.

- Reading a stream's chat: anyone for a public or unlisted stream (anonymous
  viewers included); a signed-in user (Viewer and up) for a private one.
- Writing: whoever may read and holds an identity (a user, or a chat token),
  subject to bans, modes and limits (services.message_send).
- Moderating: the stream's operators (Operator role and up, who operate every
  stream today) and the users granted the moderator role on that stream.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.roles import Role, role_at_least
from apps.chat import conf
from apps.chat.markup import name_key
from apps.chat.models import (
    ChatBan,
    ChatConnection,
    ChatIdentity,
    ChatMessage,
    ChatModerator,
    ChatSettings,
    chat_token_digest,
)
from apps.streams.models import LiveSession, LiveStream, LiveVisibility

# A socket renews its presence row this often; rows older than the stale age
# belong to a web process that died and hold no name.
PRESENCE_RENEW_SECONDS = 60
PRESENCE_STALE_SECONDS = 3 * PRESENCE_RENEW_SECONDS


def may_read(user: Any, stream: LiveStream) -> bool:
    if stream.visibility in (LiveVisibility.PUBLIC, LiveVisibility.UNLISTED):
        return True
    return role_at_least(user, Role.VIEWER)


def may_operate(user: Any, stream: LiveStream) -> bool:
    """The stream's operators: they grant moderators and send system messages."""
    return role_at_least(user, Role.OPERATOR)


def may_moderate(user: Any, stream: LiveStream) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if may_operate(user, stream):
        return True
    return ChatModerator.objects.filter(stream=stream, user=user).exists()


def stream_by_key(key: str) -> LiveStream | None:
    """A stream by its id (digits) or slug: the socket's URL takes either."""
    from castcore.api.filters import parse_id

    if key.isascii() and key.isdigit():
        stream_id = parse_id(key)
        return LiveStream.objects.filter(pk=stream_id).first() if stream_id else None
    return LiveStream.objects.filter(slug=key).first()


def settings_for(stream: LiveStream) -> ChatSettings:
    found, _ = ChatSettings.objects.get_or_create(stream=stream)
    return found


def open_session(stream: LiveStream) -> LiveSession | None:
    return LiveSession.objects.filter(stream=stream, ended_at__isnull=True).first()


def identity_by_token(token: str) -> ChatIdentity | None:
    if not token:
        return None
    return ChatIdentity.objects.filter(
        token_digest=chat_token_digest(token), user__isnull=True
    ).first()


def active_ban(stream: LiveStream, identity: ChatIdentity, address: str | None) -> ChatBan | None:
    """The ban in force on `identity`, or (by the stream's setting) on `address`."""
    match = Q(identity=identity)
    if address and settings_for(stream).ban_by_address:
        match |= Q(address=address)
    bans = ChatBan.objects.filter(ChatBan.active_q(), match, stream=stream)
    # A ban outranks a timeout; of two timeouts, the longer one.
    return bans.order_by("kind", "-until").first()


def connected(stream: LiveStream) -> QuerySet[ChatConnection]:
    cutoff = timezone.now() - timedelta(seconds=PRESENCE_STALE_SECONDS)
    return ChatConnection.objects.filter(stream=stream, seen_at__gte=cutoff)


def name_taken(stream: LiveStream, name: str, *, by_other_than: ChatIdentity) -> bool:
    """Whether another identity connected to `stream` now goes by `name` (case, spaces aside)."""
    key = name_key(name)
    names = (
        connected(stream)
        .exclude(identity=by_other_than)
        .values_list("identity__display_name", flat=True)
    )
    return any(name_key(other) == key for other in names)


def name_forbidden(name: str) -> bool:
    return name_key(name) in conf.FORBIDDEN_NAMES


def messages_for(user: Any, stream: LiveStream, *, moderator: bool) -> QuerySet[ChatMessage]:
    """A stream's messages as `user` may read them: hidden ones for moderators only."""
    messages = ChatMessage.objects.filter(stream=stream).select_related("author")
    return messages if moderator else messages.filter(visible=True)


def backlog(
    stream: LiveStream, *, moderator: bool, since_id: int | None = None
) -> list[ChatMessage]:
    """The recent messages, oldest first; after `since_id` when a client reconnects."""
    messages = messages_for(None, stream, moderator=moderator)
    if since_id is not None:
        # What a reconnecting client missed: everything after its last id, up to a bound
        # (a client away for longer reloads the page).
        return list(messages.filter(id__gt=since_id).order_by("id")[: conf.BACKLOG_SIZE * 10])
    recent = list(messages.order_by("-id")[: conf.BACKLOG_SIZE])
    recent.reverse()
    return recent
