"""Reads of the chat app, and its access rules in one place.

- Reading a stream's chat: whoever may watch the stream (apps.streams.live.selectors).
- Writing: whoever may read and holds an identity (a user, or a chat token),
  subject to bans, modes and limits (services.message_send).
- Moderating: the stream's operators (who manage it: its owner, an Operator, and
  Admins) and the users granted the moderator role on that stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.chat import conf
from apps.chat.markup import name_key
from apps.chat.models import (
    BanKind,
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
    and Admins; and the users granted the moderator role on it, who could not moderate
    a private stream's chat otherwise."""
    if stream.visibility in (LiveVisibility.PUBLIC, LiveVisibility.UNLISTED):
        return True
    if visible_live_streams(user, LiveStream.objects.filter(pk=stream.pk)).exists():
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return ChatModerator.objects.filter(stream=stream, user=user).exists()


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


# Per stream, in this process: (read at, its visibility), for sends; forgotten with the rules.
_send_visibility: dict[int, tuple[float, str]] = {}


def send_visibility(stream: LiveStream) -> str:
    """The stream's visibility as a send sees it: at most SEND_RULES_SECONDS old.

    A socket opened on a public stream keeps sending after the stream turns private
    unless each send looks again; one query a second per stream, not one per message.
    """
    now = time.monotonic()
    cached = _send_visibility.get(stream.pk)
    if cached is not None and now - cached[0] < SEND_RULES_SECONDS:
        return cached[1]
    visibility = (
        LiveStream.objects.filter(pk=stream.pk).values_list("visibility", flat=True).first()
    ) or LiveVisibility.PRIVATE  # deleted: nobody reads it any more
    _send_visibility[stream.pk] = (now, visibility)
    return visibility


def may_still_read(user: Any, stream: LiveStream) -> bool:
    """may_read on the stream's current visibility (a socket's send, or a visibility change)."""
    visibility = send_visibility(stream)
    if visibility in (LiveVisibility.PUBLIC, LiveVisibility.UNLISTED):
        return True
    stream.visibility = visibility
    signed_in = getattr(user, "is_authenticated", False)
    return may_read(user if signed_in else None, stream)


def forget_send_rules(stream_id: int | None = None) -> None:
    """Read the rules of `stream_id` (of every stream: None) afresh on the next send."""
    if stream_id is None:
        _send_rules.clear()
        _send_visibility.clear()
    else:
        _send_rules.pop(stream_id, None)
        _send_visibility.pop(stream_id, None)


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
    *,
    moderator: bool = False,
) -> ChatBan | None:
    """The ban in force on `identity`, or (by the stream's setting) on `address`."""
    return active_bans(stream, [(identity, address, moderator)], chat_settings)[0]


def active_bans(
    stream: LiveStream,
    senders: Sequence[tuple[ChatIdentity, str | None, bool]],
    chat_settings: ChatSettings | None = None,
) -> list[ChatBan | None]:
    """For each (identity, address, moderator): the ban in force on the identity, or (by
    the stream's setting) on the address; in one query for them all.

    A moderator is never matched by address alone: a viewer banned by address may share
    it (a NAT, an office) with the stream's operators, who must keep moderating.
    """
    by_address = (chat_settings or settings_for(stream)).ban_by_address
    match = Q(identity_id__in={identity.pk for identity, _, _ in senders})
    addresses = {address for _, address, moderator in senders if address and not moderator}
    if by_address and addresses:
        match |= Q(address__in=addresses)
    # Unordered (the model's ordering): the matching bans are ranked below.
    bans = list(ChatBan.objects.filter(ChatBan.active_q(), match, stream=stream).order_by())
    found: list[ChatBan | None] = []
    for identity, address, moderator in senders:
        matching = [
            ban
            for ban in bans
            if ban.identity_id == identity.pk
            or (by_address and address and not moderator and ban.address == address)
        ]
        # A ban outranks a timeout; of two timeouts, the longer one.
        matching.sort(key=lambda ban: (ban.kind != BanKind.BAN, -_until(ban)))
        found.append(matching[0] if matching else None)
    return found


def _until(ban: ChatBan) -> float:
    return ban.until.timestamp() if ban.until is not None else float("inf")


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


#: Functions giving the names a stream's chat refuses besides the instance's list
#: (an app that keeps names per stream registers one, so chat imports no such app).
_stream_forbidden_names: list[Callable[[int], Iterable[str]]] = []


def register_stream_forbidden_names(provider: Callable[[int], Iterable[str]]) -> None:
    """Add `provider(stream_id)`: names refused on that stream's chat (see name_forbidden)."""
    if provider not in _stream_forbidden_names:
        _stream_forbidden_names.append(provider)


def name_forbidden(name: str, stream_id: int | None = None) -> bool:
    """Whether `name` is refused: the instance's list, and on a stream also its own."""
    key = name_key(name)
    if key in conf.FORBIDDEN_NAMES:
        return True
    if stream_id is None:
        return False
    return any(
        key == name_key(other)
        for provider in _stream_forbidden_names
        for other in provider(stream_id)
    )


def messages_for(user: Any, stream: LiveStream, *, moderator: bool) -> QuerySet[ChatMessage]:
    """A stream's messages as `user` may read them: hidden ones for moderators only."""
    messages = ChatMessage.objects.filter(stream=stream).select_related("author")
    return messages if moderator else messages.filter(visible=True)


@dataclass
class Reconnect:
    """What a client reconnecting with `since` missed (the BACKLOG frame's fields)."""

    messages: list[ChatMessage]
    hidden: list[int]  # ids it may hold that were hidden meanwhile: it removes them
    restored: list[int]  # ids shown again meanwhile (also in `messages`, to put back)
    truncated: bool  # more than the cap was missed: `messages` is the recent backlog


RECONNECT_CAP = conf.BACKLOG_SIZE * 10


def reconnect_backlog(stream: LiveStream, *, moderator: bool, since_id: int) -> Reconnect:
    """Everything after `since_id`, and the hides and shows since the client's last message.

    Sends are stored in parallel, so a message can be published just after one with a
    higher id: the few seconds before the client's last message come again too, and the
    client, which keeps messages by id, drops what it has. A client away for more than
    RECONNECT_CAP messages gets the recent backlog, `truncated`, and starts its list over.
    """
    messages = messages_for(None, stream, moderator=moderator)
    last = (
        ChatMessage.objects.filter(pk=since_id, stream=stream)
        .values_list("sent_at", flat=True)
        .first()
    )
    after = Q(id__gt=since_id)
    changed = Q(pk__in=[])
    if last is not None:
        cutoff = last - timedelta(seconds=RECONNECT_OVERLAP_SECONDS)
        after |= Q(sent_at__gte=cutoff)
        changed = Q(hidden_at__gte=cutoff) | Q(shown_at__gte=cutoff)
    found = list(messages.filter(after).order_by("id")[: RECONNECT_CAP + 1])
    if len(found) > RECONNECT_CAP or (last is None and since_id > 0 and not found):
        # Too much missed, or an id the stream never had: a fresh list, not a partial one.
        return Reconnect(backlog(stream, moderator=moderator), [], [], True)
    # Only what the client can hold (ids up to its last one); later ones are in `found`.
    flips = list(
        ChatMessage.objects.filter(changed, stream=stream, id__lte=since_id)
        .order_by("id")
        .values_list("id", "visible")[: RECONNECT_CAP + 1]
    )
    if len(flips) > RECONNECT_CAP:
        return Reconnect(backlog(stream, moderator=moderator), [], [], True)
    restored = [pk for pk, visible in flips if visible]
    hidden = [pk for pk, visible in flips if not visible]
    have = {message.pk for message in found}
    missing = [pk for pk in restored if pk not in have]
    if missing:
        found = sorted([*found, *messages.filter(pk__in=missing)], key=lambda message: message.pk)
    return Reconnect(found, hidden, restored, False)


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
        return reconnect_backlog(stream, moderator=moderator, since_id=since_id).messages
    recent = list(messages.order_by("-id")[: conf.BACKLOG_SIZE])
    recent.reverse()
    return recent
