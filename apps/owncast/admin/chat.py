"""Owncast admin: the stream's chat clients and messages, message visibility, users
enabled or disabled. Every write is the chat app's service (audited, broadcast to the
stream's sockets, a domain event for webhooks).

An Owncast "disabled" user is, on CastCore, an identity banned from the stream's chat
with its messages hidden; enabling it lifts the bans in force.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat.models import BanKind, ChatBan, ChatMessage
from apps.owncast import chat_events, presenters
from apps.owncast.admin import schema
from apps.owncast.admin.base import AdminView
from apps.owncast.chat_writes import chat_writes_settled
from apps.owncast.presenters import owncast_time, owncast_user
from apps.owncast.views import moderation

TAGS = ["owncast admin"]
# The admin's message list: the latest of the stream's messages, hidden ones included.
MESSAGES_LIMIT = 500


def _message(message: ChatMessage) -> dict[str, Any]:
    # As GET /api/chat lists it, with when it was hidden (the admin sees hidden ones).
    return {**chat_events.message_event(message), "hiddenAt": owncast_time(message.hidden_at)}


class ChatClientsView(AdminView):
    """The sockets open on the stream's chat now (Owncast's connected clients)."""

    @extend_schema(
        tags=TAGS,
        summary="Return a list of currently connected clients",
        responses={200: schema.AdminClient(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.connected_clients(self.stream))


class ChatMessagesView(AdminView):
    """Every message of the stream, hidden ones included, newest first (the latest 500), as
    Owncast 0.0.10 lists them (its moderation history is ordered by time, descending)."""

    @extend_schema(
        tags=TAGS,
        summary="Chat messages, unfiltered.",
        responses={200: schema.AdminChatMessage(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        chat_writes_settled(self.stream.pk)  # with the sends in flight on its sockets
        latest = (
            ChatMessage.objects.filter(stream=self.stream)
            .select_related("author")
            .order_by("-pk")[:MESSAGES_LIMIT]
        )
        return Response([_message(message) for message in latest])


class MessageVisibilityView(AdminView):
    """Hide or show messages (0.0.10's `updatemessagevisibility`, and `messagevisibility`)."""

    @extend_schema(
        tags=TAGS,
        summary="Update the visibility of chat messages.",
        request=schema.AdminMessageVisibility,
        responses=schema.BASIC,
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        return moderation.visibility_set(request, self.stream)


class UserEnabledView(AdminView):
    """Disable a user (banned from the stream's chat, its messages hidden) or enable it."""

    @extend_schema(
        tags=TAGS,
        summary="Enable or disable a single user.",
        request=schema.AdminUserEnabled,
        responses=schema.BASIC,
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        return moderation.user_enabled_set(request, self.stream)


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
