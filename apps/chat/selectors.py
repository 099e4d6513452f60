"""Reads of the chat app, and its access rules in one place.

- Reading a stream's chat: whoever may watch the stream (apps.streams.live.selectors).
- Writing: whoever may read and holds an identity (a user, or a chat token),
  subject to bans, modes and limits (services.message_send).
- Moderating: the stream's operators (who manage it: its owner, an Operator, and
  Admins) and the users granted the moderator role on that stream.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

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
from apps.streams.live.selectors import may_manage_live_stream, visible_live_streams
from apps.streams.models import LiveSession, LiveStream, LiveVisibility

# A socket renews its presence row this often; rows older than the stale age
# belong to a web process that died and hold no name.
PRESENCE_RENEW_SECONDS = 60
PRESENCE_STALE_SECONDS = 3 * PRESENCE_RENEW_SECONDS
# A reconnect's backlog also repeats the messages sent this long before its last one.
RECONNECT_OVERLAP_SECONDS = 5


def may_read(user: Any, stream: LiveStream) -> bool:
    """Whoever may watch the stream may read its chat (the streams app's rule): a public or
    unlisted one anyone (an unlisted one's link is the access), a private one its owner
    and Admins."""
    if stream.visibility in (LiveVisibility.PUBLIC, LiveVisibility.UNLISTED):
        return True
    return visible_live_streams(user, LiveStream.objects.filter(pk=stream.pk)).exists()


def may_operate(user: Any, stream: LiveStream) -> bool:
    """The stream's operators (those who manage it): they grant moderators, send system
    messages, and moderate."""
    return may_manage_live_stream(user, stream)


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
    """The stream's chat rules; the defaults (unsaved) until someone changes them."""
    found = ChatSettings.objects.filter(stream=stream).first()
    return found if found is not None else ChatSettings(stream=stream)


# Per stream, in this process: (read at, its rules, its open session), for sends.
_send_rules: dict[int, tuple[float, ChatSettings, LiveSession | None]] = {}
SEND_RULES_SECONDS = 1.0


def send_rules(stream: LiveStream) -> tuple[ChatSettings, LiveSession | None]:
    """The stream's chat rules and open session as a send sees them: at most a second old.

    Two queries fewer on every message; a change of the rules or a stream going
    offline reaches every web process's sends within SEND_RULES_SECONDS (bans are
    not cached: each send reads them).
    """
    now = time.monotonic()
    cached = _send_rules.get(stream.pk)
    if cached is not None and now - cached[0] < SEND_RULES_SECONDS:
        return cached[1], cached[2]
    rules, session = settings_for(stream), open_session(stream)
    _send_rules[stream.pk] = (now, rules, session)
    return rules, session


def forget_send_rules(stream_id: int | None = None) -> None:
    """Read the rules of `stream_id` (of every stream: None) afresh on the next send."""
    if stream_id is None:
        _send_rules.clear()
    else:
        _send_rules.pop(stream_id, None)


def open_session(stream: LiveStream) -> LiveSession | None:
    return LiveSession.objects.filter(stream=stream, ended_at__isnull=True).first()


def identity_by_token(token: str) -> ChatIdentity | None:
    if not token:
        return None
    return ChatIdentity.objects.filter(
        token_digest=chat_token_digest(token), user__isnull=True
    ).first()


def active_ban(
    stream: LiveStream,
    identity: ChatIdentity,
    address: str | None,
    chat_settings: ChatSettings | None = None,
) -> ChatBan | None:
    """The ban in force on `identity`, or (by the stream's setting) on `address`."""
    match = Q(identity=identity)
    chat_settings = chat_settings or settings_for(stream)
    if address and chat_settings.ban_by_address:
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
        # (a client away for longer reloads the page). Sends are stored in parallel, so a
        # message can be published just after one with a higher id: the few seconds
        # before the client's last message come again too, and the client, which keeps
        # messages by id, drops what it has.
        last = ChatMessage.objects.filter(pk=since_id).values_list("sent_at", flat=True).first()
        after = Q(id__gt=since_id)
        if last is not None:
            after |= Q(sent_at__gte=last - timedelta(seconds=RECONNECT_OVERLAP_SECONDS))
        return list(messages.filter(after).order_by("id")[: conf.BACKLOG_SIZE * 10])
    recent = list(messages.order_by("-id")[: conf.BACKLOG_SIZE])
    recent.reverse()
    return recent
