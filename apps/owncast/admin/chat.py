"""Owncast admin: the stream's chat clients and messages, message visibility, users
enabled or disabled. Every write is the chat app's service (audited, broadcast to the
stream's sockets, a domain event for webhooks).

An Owncast "disabled" user is, on CastCore, an identity banned from the stream's chat
with its messages hidden; enabling it lifts the bans in force.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import selectors as chat_selectors
from apps.chat.models import BanKind, ChatBan, ChatIdentity, ChatMessage, MessageKind
from apps.chat.services import ban_lift, identity_ban, messages_set_visibility
from apps.owncast import responses
from apps.owncast.admin import schema
from apps.owncast.admin.base import AdminView
from apps.owncast.webhooks import owncast_time, owncast_user
from castcore.api.errors import ApiError
from castcore.api.filters import parse_id

TAGS = ["owncast admin"]
# The admin's message list: the latest of the stream's messages, hidden ones included.
MESSAGES_LIMIT = 500
MAX_IDS = 500


def _message(message: ChatMessage) -> dict[str, Any]:
    system = message.kind == MessageKind.SYSTEM or message.author is None
    user = owncast_user(None if system else message.author, name=message.author_name)
    user["displayName"] = message.author_name or user["displayName"]
    return {
        "id": str(message.pk),
        "type": "SYSTEM" if system else "CHAT",
        "timestamp": owncast_time(message.sent_at),
        "user": user,
        "body": message.body_html,
        "visible": message.visible,
        "hiddenAt": owncast_time(message.hidden_at),
    }


class ChatClientsView(AdminView):
    """The sockets open on the stream's chat now (Owncast's connected clients)."""

    @extend_schema(
        tags=TAGS,
        summary="Return a list of currently connected clients",
        responses={200: schema.AdminClient(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        stream = self.stream
        connections = chat_selectors.connected(stream).select_related("identity").order_by("pk")
        counts = dict(
            ChatMessage.objects.filter(
                stream=stream, author_id__in=[c.identity_id for c in connections]
            )
            .values_list("author_id")
            .annotate(n=Count("pk"))
        )
        return Response(
            [
                {
                    "connectedAt": owncast_time(connection.connected_at),
                    "messageCount": counts.get(connection.identity_id, 0),
                    "userAgent": "",
                    "ipAddress": connection.address or "",
                    "clientID": str(connection.pk),
                    "geo": None,
                    "user": owncast_user(connection.identity),
                }
                for connection in connections
            ]
        )


class ChatMessagesView(AdminView):
    """Every message of the stream, hidden ones included, newest first (the latest 500), as
    Owncast 0.0.10 lists them (its moderation history is ordered by time, descending)."""

    @extend_schema(
        tags=TAGS,
        summary="Chat messages, unfiltered.",
        responses={200: schema.AdminChatMessage(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        latest = (
            ChatMessage.objects.filter(stream=self.stream)
            .select_related("author")
            .order_by("-pk")[:MESSAGES_LIMIT]
        )
        return Response([_message(message) for message in latest])


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise ApiError("validation.invalid", {"field": "idArray", "max_items": MAX_IDS})
    ids = []
    for item in value:
        parsed = parse_id(str(item)) if isinstance(item, str | int) else None
        if parsed is None:
            raise ApiError("validation.invalid", {"field": "idArray"})
        ids.append(parsed)
    return ids


class MessageVisibilityView(AdminView):
    """Hide or show messages (0.0.10's `updatemessagevisibility`, and `messagevisibility`)."""

    @extend_schema(
        tags=TAGS,
        summary="Update the visibility of chat messages.",
        request=schema.AdminMessageVisibility,
        responses=schema.BASIC,
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        visible = data.get("visible")
        if not isinstance(visible, bool):
            return responses.simple_response(False, "visible must be true or false")
        ids = _ids(data.get("idArray"))
        messages_set_visibility(
            stream=self.stream,
            message_ids=ids,
            visible=visible,
            actor=request.user,
            request=request,
        )
        return responses.simple_response(True, "changed")


class UserEnabledView(AdminView):
    """Disable a user (banned from the stream's chat, its messages hidden) or enable it."""

    @extend_schema(
        tags=TAGS,
        summary="Enable or disable a single user.",
        request=schema.AdminUserEnabled,
        responses=schema.BASIC,
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        enabled = data.get("enabled")
        user_id = parse_id(str(data.get("userId", "")))
        if not isinstance(enabled, bool) or user_id is None:
            return responses.simple_response(False, "userId and enabled are required")
        identity = ChatIdentity.objects.filter(pk=user_id).first()
        if identity is None:
            return responses.simple_response(False, "no such user")
        stream = self.stream
        if enabled:
            for ban in ChatBan.objects.filter(ChatBan.active_q(), stream=stream, identity=identity):
                ban_lift(ban=ban, actor=request.user, request=request)
        elif chat_selectors.active_ban(stream, identity, None) is None:
            identity_ban(
                stream=stream,
                identity=identity,
                kind=BanKind.BAN,
                actor=request.user,
                reason="disabled through the Owncast admin API",
                hide_messages=True,
                request=request,
            )
        return responses.simple_response(True, f"{identity.pk} enabled: {str(enabled).lower()}")


class DisabledUsersView(AdminView):
    """The users disabled on the stream: identities banned from its chat now (0.0.10's
    `chat/users/disabled`, and the document's `users/disabled`)."""

    @extend_schema(
        tags=TAGS,
        summary="Return a list of disabled users",
        responses={200: schema.AdminUser(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        bans = (
            ChatBan.objects.filter(ChatBan.active_q(), stream=self.stream)
            .filter(Q(kind=BanKind.BAN) | Q(kind=BanKind.TIMEOUT))
            .select_related("identity")
            .order_by("created_at", "pk")
        )
        users: dict[int, dict[str, Any]] = {}
        for ban in bans:
            if ban.identity_id not in users:
                user = owncast_user(ban.identity)
                user["disabledAt"] = owncast_time(ban.created_at)
                users[ban.identity_id] = user
        return Response(list(users.values()))
