"""Writes of the chat app: identities, messages, moderation. Sockets, views and admin call these.

Every message is stored before it is broadcast, and broadcast only after its
transaction commits (events.publish_frame), so a client never sees a message
that a reload would not show. Every moderation act writes an audit entry in
the same transaction as the change.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status

from apps.accounts.audit import audit_record, update_audited
from apps.chat import conf, events, ratelimit, selectors
from apps.chat.markup import clean_body, clean_name, render
from apps.chat.models import (
    BanKind,
    ChatBan,
    ChatConnection,
    ChatIdentity,
    ChatMessage,
    ChatModerator,
    ChatSettings,
    MessageKind,
    chat_token_digest,
    new_chat_token,
)
from apps.streams.models import LiveSession, LiveStream
from castcore.api.errors import ApiError
from castcore.events import emit

#: Every code a chat write can refuse with, and the HTTP status the API answers it with
#: (the socket sends the same code in an ERROR frame).
ERROR_STATUSES: dict[str, int] = {
    "chat.empty": status.HTTP_400_BAD_REQUEST,
    "chat.too_long": status.HTTP_400_BAD_REQUEST,
    "chat.name_invalid": status.HTTP_400_BAD_REQUEST,
    "chat.name_forbidden": status.HTTP_400_BAD_REQUEST,
    "chat.needs_registration": status.HTTP_401_UNAUTHORIZED,
    "chat.banned": status.HTTP_403_FORBIDDEN,
    "chat.timed_out": status.HTTP_403_FORBIDDEN,
    "chat.signed_in_only": status.HTTP_403_FORBIDDEN,
    "chat.not_moderator": status.HTTP_403_FORBIDDEN,
    "chat.forbidden": status.HTTP_403_FORBIDDEN,
    "chat.closed": status.HTTP_409_CONFLICT,
    "chat.name_taken": status.HTTP_409_CONFLICT,
    "chat.rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "chat.slow_mode": status.HTTP_429_TOO_MANY_REQUESTS,
}


class ChatError(ApiError):
    """A refused chat write: its code names the rule (ERROR_STATUSES gives the status)."""

    def __init__(self, code: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(code, params, status_code=ERROR_STATUSES[code])


def _announce(kind: str, stream: LiveStream, payload: dict[str, Any]) -> None:
    """The one call site of chat's domain events (`chat.message`, `chat.moderation`).

    An outbox row in the transaction of the change (castcore.events.emit), for webhooks,
    notifications and the Owncast webhooks later. Live fan-out to sockets does not go
    through here (events.publish_frame is its fast path).
    """
    emit(kind, {"stream_id": stream.pk, **payload}, subject=f"live_stream:{stream.pk}")


def _user_row(actor: Any) -> Any:
    """`actor` for a column that names a user; None for an integration token's principal
    (no user row: the audit entry and the event name it instead)."""
    if getattr(actor, "is_authenticated", False) and isinstance(getattr(actor, "pk", None), int):
        return actor
    return None


def _name(actor: Any) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else ""


# --- identities


def _random_color() -> int:
    return random.randrange(360)  # noqa: S311 (a display colour, not a secret)


def _anonymous_name() -> str:
    return f"viewer-{random.randrange(10_000, 100_000)}"  # noqa: S311


def validate_name(name: object, *, stream: LiveStream | None = None) -> str:
    """A display name as it would be stored, or ChatError (on `stream`, its names too)."""
    if not isinstance(name, str):
        raise ChatError("chat.name_invalid", {"max_length": conf.MAX_NAME_LENGTH})
    cleaned = clean_name(name)
    if not cleaned or len(cleaned) > conf.MAX_NAME_LENGTH:
        raise ChatError("chat.name_invalid", {"max_length": conf.MAX_NAME_LENGTH})
    if selectors.name_forbidden(cleaned, stream.pk if stream is not None else None):
        raise ChatError("chat.name_forbidden", {"name": cleaned})
    return cleaned


def identity_for_user(user: Any) -> ChatIdentity:
    """A signed-in user's identity, made on first use with their username as its name."""
    identity, _ = ChatIdentity.objects.get_or_create(
        user=user,
        defaults={"display_name": user.get_username()[:64], "display_color": _random_color()},
    )
    return identity


def identity_register(
    *, display_name: str | None = None, stream: LiveStream | None = None
) -> tuple[ChatIdentity, str]:
    """A new anonymous identity and its token (returned once; only its digest is kept);
    registered for `stream`'s chat, a name that stream refuses is refused too."""
    name = validate_name(display_name, stream=stream) if display_name else _anonymous_name()
    token = new_chat_token()
    identity = ChatIdentity.objects.create(
        token_digest=chat_token_digest(token), display_name=name, display_color=_random_color()
    )
    return identity, token


def identity_rename(
    *,
    identity: ChatIdentity,
    stream: LiveStream,
    new_name: object,
    address: str | None = None,
    moderator: bool = False,
) -> str:
    """Rename `identity`; refused when it is banned or timed out on `stream`, renames too
    often (per identity and per address), the name is forbidden or another connected
    identity on `stream` has it. Broadcasts NAME_CHANGE. Returns the old name."""
    _check_not_banned(stream, identity, address, moderator)
    name = validate_name(new_name, stream=stream)
    old = identity.display_name
    if name == old:
        return old
    _check_rename_rate(identity, address)
    if selectors.name_taken(stream, name, by_other_than=identity):
        raise ChatError("chat.name_taken", {"name": name})
    with transaction.atomic():
        identity.previous_names = [*identity.previous_names, old][-10:]
        identity.display_name = name
        identity.save(update_fields=["display_name", "previous_names"])
        frame = {
            "type": events.NAME_CHANGE,
            "timestamp": events.now_text(),
            "user": events.user_info(identity),
            "oldName": old,
            "newName": name,
        }
        connected = _streams_connected(identity)
        for stream_id in connected:
            events.publish_frame(stream_id, frame)
        for stream_id in sorted(connected | {stream.pk}):
            _announce(
                "chat.name_change",
                LiveStream(pk=stream_id),
                {"identity_id": identity.pk, "old_name": old, "new_name": name},
            )
    return old


def _check_rename_rate(identity: ChatIdentity, address: str | None) -> None:
    # Each NAME_CHANGE is broadcast to every socket of every stream the identity is on:
    # without a limit, renames are a flood that the message limits do not count.
    limits = [(f"rename:id:{identity.pk}", conf.RENAME_RATE)]
    if address:
        limits.append((f"rename:ip:{address}", conf.RENAME_RATE))
    waits = ratelimit.hit(limits)
    if waits:
        raise ChatError("chat.rate_limited", {"retry_after": max(waits)})


def _streams_connected(identity: ChatIdentity) -> set[int]:
    return set(identity.connections.values_list("stream_id", flat=True))


def connection_open(
    *, stream: LiveStream, identity: ChatIdentity, address: str | None
) -> tuple[ChatConnection, bool]:
    """Record a socket on `stream`; (its row, whether the identity has just joined).

    A name another connected identity holds is made unique with a number: names are
    unique among a stream's connected users, and a socket is never refused for it.
    """
    with transaction.atomic():
        base = identity.display_name
        name, number = base, 2
        while selectors.name_taken(stream, name, by_other_than=identity):
            name = f"{base[: conf.MAX_NAME_LENGTH - 4]}-{number}"
            number += 1
        fields = ["last_address"]
        if name != base:
            identity.previous_names = [*identity.previous_names, base][-10:]
            identity.display_name = name
            fields += ["display_name", "previous_names"]
        identity.last_address = address
        identity.save(update_fields=fields)
        joined = not selectors.connected(stream).filter(identity=identity).exists()
        connection = ChatConnection.objects.create(
            stream=stream, identity=identity, address=address
        )
        if joined:
            frame = {
                "type": events.USER_JOINED,
                "timestamp": events.now_text(),
                "user": events.user_info(identity),
            }
            events.publish_frame(stream.pk, frame)
            _announce(
                "chat.user_joined",
                stream,
                {"identity_id": identity.pk, "display_name": identity.display_name},
            )
    return connection, joined


def connection_close(*, connection_id: int) -> None:
    ChatConnection.objects.filter(pk=connection_id).delete()


def connections_renew(*, connection_ids: Iterable[int]) -> None:
    ChatConnection.objects.filter(pk__in=list(connection_ids)).update(seen_at=timezone.now())


# --- messages


def _rate_limits(identity: ChatIdentity, address: str | None) -> list[tuple[str, ratelimit.Window]]:
    """A message's limits, per identity and per address, burst and sustained.

    Every attempt counts, refused or not: a client flooding past the limit stays cut.
    """
    limits = [(f"id:{identity.pk}", conf.IDENTITY_BURST), (f"id:{identity.pk}", conf.IDENTITY_RATE)]
    if address:
        limits += [(f"ip:{address}", conf.ADDRESS_BURST), (f"ip:{address}", conf.ADDRESS_RATE)]
    return limits


def _check_modes(
    *,
    identity: ChatIdentity,
    moderator: bool,
    chat_settings: ChatSettings,
    session: LiveSession | None,
) -> None:
    if moderator:
        return
    if chat_settings.signed_in_only and identity.user_id is None:
        raise ChatError("chat.signed_in_only")
    if chat_settings.closed_when_offline and session is None:
        raise ChatError("chat.closed", {"reason": "offline"})


def _check_not_banned(
    stream: LiveStream,
    identity: ChatIdentity,
    address: str | None,
    moderator: bool,
    chat_settings: ChatSettings | None = None,
) -> None:
    _refuse_ban(selectors.active_ban(stream, identity, address, chat_settings, moderator=moderator))


def _refuse_ban(ban: ChatBan | None) -> None:
    if ban is not None:
        if ban.kind == BanKind.TIMEOUT and ban.until is not None:
            retry = max(1, int((ban.until - timezone.now()).total_seconds()) + 1)
            raise ChatError("chat.timed_out", {"retry_after": retry})
        raise ChatError("chat.banned")


def _validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise ChatError("chat.empty")
    if len(body) > conf.MAX_MESSAGE_LENGTH * 4:
        # Refused before any work on it (a 10 kB body is not normalised character by character).
        raise ChatError("chat.too_long", {"max_length": conf.MAX_MESSAGE_LENGTH})
    cleaned = clean_body(body)
    if not cleaned:
        raise ChatError("chat.empty")
    if len(cleaned) > conf.MAX_MESSAGE_LENGTH:
        raise ChatError("chat.too_long", {"max_length": conf.MAX_MESSAGE_LENGTH})
    return cleaned


@dataclass(frozen=True)
class Send:
    """A viewer's message as it arrived, before any check (message_prepare, messages_prepare)."""

    identity: ChatIdentity
    body: object
    address: str | None
    moderator: bool = False


def message_prepare(
    *,
    stream: LiveStream,
    identity: ChatIdentity,
    body: object,
    address: str | None,
    moderator: bool = False,
) -> ChatMessage:
    """Every check of a viewer's message, and the message as it will be stored (unsaved),
    or ChatError. `messages_store` stores and broadcasts it."""
    send = Send(identity=identity, body=body, address=address, moderator=moderator)
    outcome = messages_prepare(stream=stream, sends=[send])[0]
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


def messages_prepare(*, stream: LiveStream, sends: Sequence[Send]) -> list[ChatMessage | ChatError]:
    """Every check of each of a stream's sends, in order: the message as it will be stored
    (unsaved), or the ChatError that refuses it.

    Bans (by identity, and by address when the stream says so) are read from the
    database on every send: a ban takes effect on sockets that were open before it; one
    query for the whole batch, and one round trip for its rate limits (each send counts
    for the next). The stream's modes are at most selectors.SEND_RULES_SECONDS old.
    """
    chat_settings, session = selectors.send_rules(stream)
    bans = selectors.active_bans(
        stream, [(send.identity, send.address, send.moderator) for send in sends], chat_settings
    )
    outcomes: list[ChatMessage | ChatError | None] = []
    for send, ban in zip(sends, bans, strict=True):
        try:
            _refuse_ban(ban)
            _check_modes(
                identity=send.identity,
                moderator=send.moderator,
                chat_settings=chat_settings,
                session=session,
            )
            outcomes.append(None)
        except ChatError as error:
            outcomes.append(error)
    checked = [n for n, outcome in enumerate(outcomes) if outcome is None]
    waits = ratelimit.hit_many([_rate_limits(sends[n].identity, sends[n].address) for n in checked])
    for n, over in zip(checked, waits, strict=True):
        if over:
            outcomes[n] = ChatError("chat.rate_limited", {"retry_after": max(over)})
    # Slow mode: a sender's last stored message, or one of its sends earlier in this batch.
    sent_now: set[int | None] = set()
    for n, send in enumerate(sends):
        if outcomes[n] is not None:
            continue
        try:
            cleaned = _validate_body(send.body)
            if chat_settings.slow_mode_seconds and not send.moderator:
                seconds = chat_settings.slow_mode_seconds
                if send.identity.pk in sent_now:
                    raise ChatError("chat.slow_mode", {"retry_after": seconds})
                _check_slow_mode(stream, send.identity, seconds)
            sent_now.add(send.identity.pk)
        except ChatError as error:
            outcomes[n] = error
            continue
        outcomes[n] = ChatMessage(
            stream=stream,
            session=session,
            kind=MessageKind.CHAT,
            author=send.identity,
            author_name=send.identity.display_name,
            body=cleaned,
            body_html=render(cleaned),
            sent_at=timezone.now(),
        )
    prepared = [outcome for outcome in outcomes if outcome is not None]
    assert len(prepared) == len(sends)  # every send has its outcome
    return prepared


def _check_slow_mode(stream: LiveStream, identity: ChatIdentity, seconds: int) -> None:
    since = timezone.now() - timedelta(seconds=seconds)
    last = (
        ChatMessage.objects.filter(stream=stream, author=identity, sent_at__gt=since)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if last is not None:
        wait = seconds - (timezone.now() - last).total_seconds()
        raise ChatError("chat.slow_mode", {"retry_after": max(1, int(wait) + 1)})


def messages_store(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Store prepared messages (message_prepare) in one transaction, then broadcast them in
    id order once it commits.

    One INSERT for them all and one commit: on PostgreSQL the commit is most of a
    message's cost, so a busy stream's sends share it (apps.chat.writer batches them).
    """
    if not messages:
        return []
    with transaction.atomic():
        stored = ChatMessage.objects.bulk_create(messages)
        for message in stored:
            assert message.pk is not None  # the database returned the ids (PostgreSQL, SQLite)
            stream = message.stream
            events.publish_frame(stream.pk, events.message_frame(message), message_id=message.pk)
            _announce(
                "chat.message",
                stream,
                {
                    "message_id": message.pk,
                    "kind": message.kind,
                    "author_id": message.author_id,
                    "author_name": message.author_name,
                    "body": message.body,
                    "sent_at": message.sent_at,
                },
            )
    return stored


def message_send(
    *,
    stream: LiveStream,
    identity: ChatIdentity,
    body: object,
    address: str | None,
    moderator: bool = False,
) -> ChatMessage:
    """Store a viewer's message and broadcast it after commit, or refuse it (ChatError)."""
    message = message_prepare(
        stream=stream, identity=identity, body=body, address=address, moderator=moderator
    )
    return messages_store([message])[0]


def system_message_send(
    *, stream: LiveStream, body: object, actor: Any, request: HttpRequest | None = None
) -> ChatMessage:
    """A message from the stream's operators (later: integrations), shown as SYSTEM."""
    cleaned = _validate_body(body)
    with transaction.atomic():
        message = ChatMessage.objects.create(
            stream=stream,
            session=selectors.open_session(stream),
            kind=MessageKind.SYSTEM,
            author_name=conf.SYSTEM_NAME,
            body=cleaned,
            body_html=render(cleaned),
        )
        audit_record(
            actor=actor,
            action="chat.system_message",
            target=stream,
            changes={"message_id": message.pk},
            request=request,
        )
        events.publish_frame(stream.pk, events.message_frame(message), message_id=message.pk)
        _announce(
            "chat.message",
            stream,
            {
                "message_id": message.pk,
                "kind": message.kind,
                "author_id": None,
                "author_name": message.author_name,
                "body": message.body,
                "sent_at": message.sent_at,
            },
        )
    return message


def _announce_unstored(
    stream: LiveStream,
    frame: dict[str, Any],
    *,
    action: str,
    changes: dict[str, Any],
    actor: Any,
    request: HttpRequest | None,
    connection_id: int | None = None,
) -> None:
    """Audit a frame that is sent and not stored, and send it once the entry commits."""
    with transaction.atomic():
        audit_record(actor=actor, action=action, target=stream, changes=changes, request=request)
        events.publish_frame(stream.pk, frame, connection_id=connection_id)


def system_message_to_connection(
    *,
    stream: LiveStream,
    connection_id: int,
    body: object,
    actor: Any,
    request: HttpRequest | None = None,
) -> bool:
    """A SYSTEM message to one socket open on `stream` (ChatConnection id), not stored:
    only that client sees it, and a reload does not show it again. False when no such
    socket is connected."""
    cleaned = _validate_body(body)
    if not selectors.connected(stream).filter(pk=connection_id).exists():
        return False
    message = ChatMessage(
        stream=stream,
        kind=MessageKind.SYSTEM,
        author_name=conf.SYSTEM_NAME,
        body=cleaned,
        body_html=render(cleaned),
        sent_at=timezone.now(),
    )
    _announce_unstored(
        stream,
        events.message_frame(message),
        action="chat.system_message",
        changes={"connection_id": connection_id},
        actor=actor,
        request=request,
        connection_id=connection_id,
    )
    return True


def chat_action_send(
    *, stream: LiveStream, body: object, actor: Any, request: HttpRequest | None = None
) -> str:
    """A CHAT_ACTION line ("JohnSmith rolled a 15") to everyone on `stream`'s chat.

    Not stored: an action tells what happens now, as a ban's notice does; the
    backlog keeps messages only. Returns the rendered body.
    """
    cleaned = _validate_body(body)
    html_body = render(cleaned)
    _announce_unstored(
        stream,
        {"type": events.CHAT_ACTION, "timestamp": events.now_text(), "body": html_body},
        action="chat.action",
        changes={"body": cleaned},
        actor=actor,
        request=request,
    )
    return html_body


# --- moderation


def messages_set_visibility(
    *,
    stream: LiveStream,
    message_ids: Iterable[int],
    visible: bool,
    actor: Any,
    request: HttpRequest | None = None,
) -> list[int]:
    """Hide or show messages of `stream`; connected clients remove or restore them at once.

    Returns the ids that changed (ids of other streams, or already so, are left alone).
    """
    ids = sorted(set(message_ids))
    with transaction.atomic():
        rows = ChatMessage.objects.select_for_update().filter(
            stream=stream, pk__in=ids, visible=not visible
        )
        changed = list(rows.values_list("pk", flat=True))
        if not changed:
            return []
        ChatMessage.objects.filter(pk__in=changed).update(
            visible=visible,
            hidden_at=None if visible else timezone.now(),
            hidden_by=None if visible else _user_row(actor),
            shown_at=timezone.now() if visible else None,
        )
        _visibility_changed(stream, changed, visible, actor=actor, request=request)
    return changed


def _visibility_changed(
    stream: LiveStream,
    ids: list[int],
    visible: bool,
    *,
    actor: Any,
    request: HttpRequest | None,
    reason: str = "",
) -> None:
    audit_record(
        actor=actor,
        action="chat.message_show" if visible else "chat.message_hide",
        target=stream,
        changes={"message_ids": ids, "visible": visible, **({"reason": reason} if reason else {})},
        request=request,
    )
    frame = {
        "type": events.VISIBILITY_UPDATE,
        "timestamp": events.now_text(),
        "ids": ids,
        "visible": visible,
    }
    events.publish_frame(stream.pk, frame)
    if visible:
        # Moderators saw them all along; everyone else gets the messages back to show.
        for message in ChatMessage.objects.filter(pk__in=ids).select_related("author"):
            events.publish_frame(stream.pk, events.message_frame(message), message_id=None)
    _announce(
        "chat.moderation",
        stream,
        {"action": "show" if visible else "hide", "ids": ids, "by": _name(actor)},
    )


def identity_ban(
    *,
    stream: LiveStream,
    identity: ChatIdentity,
    kind: str,
    actor: Any,
    duration_seconds: int | None = None,
    reason: str = "",
    hide_messages: bool = False,
    request: HttpRequest | None = None,
) -> ChatBan:
    """Time out (for `duration_seconds`) or ban `identity` on `stream`.

    Keyed to the identity, and to its last address when the stream bans by address,
    so a new name or a new token does not lift it. Its open sockets on the stream are
    closed; with `hide_messages`, what it wrote there is hidden for everyone.
    """
    if kind not in BanKind.values:
        raise ApiError("validation.invalid_choice", {"field": "kind", "allowed": BanKind.values})
    if kind == BanKind.TIMEOUT and not duration_seconds:
        raise ApiError("validation.required", {"field": "duration_seconds"})
    if identity.user_id is not None and selectors.may_moderate(identity.user, stream):
        raise ApiError("chat.moderator_unbannable", status_code=status.HTTP_409_CONFLICT)
    chat_settings = selectors.settings_for(stream)
    address = identity.last_address if chat_settings.ban_by_address else None
    until = (
        timezone.now() + timedelta(seconds=duration_seconds)
        if kind == BanKind.TIMEOUT and duration_seconds
        else None
    )
    with transaction.atomic():
        ban = ChatBan.objects.create(
            stream=stream,
            identity=identity,
            address=address,
            kind=kind,
            until=until,
            reason=reason[:200],
            created_by=_user_row(actor),
        )
        audit_record(
            actor=actor,
            action=f"chat.{kind}",
            target=stream,
            changes={
                "identity_id": identity.pk,
                "display_name": identity.display_name,
                "by_address": address is not None,
                "until": until.isoformat() if until else None,
                "reason": ban.reason,
            },
            request=request,
        )
        events.publish_kick(
            stream.pk,
            identity_id=identity.pk,
            address=address,
            code="chat.timed_out" if kind == BanKind.TIMEOUT else "chat.banned",
        )
        verb = "timed out" if kind == BanKind.TIMEOUT else "banned"
        events.publish_frame(
            stream.pk,
            {
                "type": events.CHAT_ACTION,
                "timestamp": events.now_text(),
                "body": f"{identity.display_name} was {verb}.",
            },
        )
        _announce(
            "chat.moderation",
            stream,
            {
                "action": kind,
                "identity_id": identity.pk,
                "display_name": identity.display_name,
                "until": until,
                "by": _name(actor),
            },
        )
        if hide_messages:
            ids = list(
                ChatMessage.objects.filter(
                    stream=stream, author=identity, visible=True
                ).values_list("pk", flat=True)
            )
            if ids:
                ChatMessage.objects.filter(pk__in=ids).update(
                    visible=False, hidden_at=timezone.now(), hidden_by=ban.created_by
                )
                _visibility_changed(
                    stream, ids, False, actor=actor, request=request, reason=f"chat.{kind}"
                )
    return ban


def ban_lift(*, ban: ChatBan, actor: Any, request: HttpRequest | None = None) -> bool:
    """End a ban or timeout now; False when it was no longer in force."""
    with transaction.atomic():
        lifted = (
            ChatBan.objects.filter(ChatBan.active_q(), pk=ban.pk).update(lifted_at=timezone.now())
            == 1
        )
        if lifted:
            audit_record(
                actor=actor,
                action="chat.ban_lift",
                target=ban.stream,
                changes={"ban_id": ban.pk, "identity_id": ban.identity_id, "kind": ban.kind},
                request=request,
            )
            _announce(
                "chat.moderation",
                ban.stream,
                {
                    "action": "lift",
                    "ban_id": ban.pk,
                    "identity_id": ban.identity_id,
                    "by": _name(actor),
                },
            )
    ban.refresh_from_db(fields=["lifted_at"])
    return lifted


def moderator_grant(
    *, stream: LiveStream, user: Any, actor: Any, request: HttpRequest | None = None
) -> ChatModerator:
    with transaction.atomic():
        moderator, created = ChatModerator.objects.get_or_create(
            stream=stream, user=user, defaults={"granted_by": actor}
        )
        if created:
            audit_record(
                actor=actor,
                action="chat.moderator_grant",
                target=stream,
                changes={"user_id": user.pk, "username": user.get_username()},
                request=request,
            )
    return moderator


def moderator_revoke(
    *, stream: LiveStream, user: Any, actor: Any, request: HttpRequest | None = None
) -> bool:
    with transaction.atomic():
        deleted, _ = ChatModerator.objects.filter(stream=stream, user=user).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="chat.moderator_revoke",
                target=stream,
                changes={"user_id": user.pk, "username": user.get_username()},
                request=request,
            )
    return bool(deleted)


def chat_settings_update(
    *,
    stream: LiveStream,
    fields: dict[str, Any],
    actor: Any,
    request: HttpRequest | None = None,
) -> ChatSettings:
    chat_settings, _ = ChatSettings.objects.get_or_create(stream=stream)
    changes = update_audited(
        chat_settings,
        fields,
        actor=actor,
        action="chat.settings_update",
        request=request,
        also_save=["updated_at"],
    )
    selectors.forget_send_rules(stream.pk)
    if changes:
        _announce(
            "chat.moderation",
            stream,
            {"action": "settings", "changes": changes, "by": _name(actor)},
        )
    return chat_settings
