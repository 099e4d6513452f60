"""Owncast's /api/integrations/* endpoints: a Bearer access token with Owncast's scope.

Every write is the chat or live streams app's own service; the token's principal
(apps.integrations.authentication.IntegrationPrincipal) is the actor in the audit log.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.utils import inline_serializer as inline
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import services as chat_services
from apps.integrations.models import IntegrationToken
from apps.owncast import auth, presenters, services
from apps.owncast.responses import error_response, simple_response
from apps.owncast.views import moderation
from apps.owncast.views.base import OwncastIntegrationView
from apps.owncast.views.chat import OwncastChatEventSerializer
from castcore.api.filters import parse_id
from castcore.client_ip import client_ip

TAGS = ["owncast"]

_Basic = inline(
    "OwncastBasicResponse",
    {"success": serializers.BooleanField(), "message": serializers.CharField()},
)
_Body = inline("OwncastMessageBody", {"body": serializers.CharField()})
_Value = inline(
    "OwncastConfigValue",
    {"value": serializers.JSONField(help_text="string, integer, object or boolean")},
)
_Visibility = inline(
    "OwncastMessageVisibility",
    {
        "visible": serializers.BooleanField(),
        "idArray": serializers.ListField(child=serializers.CharField()),
    },
)


def _data(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


class StreamTitleView(OwncastIntegrationView):
    """Set the stream's title (HAS_ADMIN_ACCESS)."""

    owncast_scope = auth.HAS_ADMIN_ACCESS

    @extend_schema(
        tags=TAGS, summary="Set the stream title.", request=_Value, responses={200: _Basic}
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        services.stream_title_set(
            stream=self.stream,
            title=_data(request).get("value"),
            actor=request.user,
            request=request,
        )
        return simple_response(True, "changed")


class ChatSendView(OwncastIntegrationView):
    """A chat message as the integration's bot (CAN_SEND_MESSAGES): named after the token,
    moderated and rate limited like any viewer's."""

    owncast_scope = auth.CAN_SEND_MESSAGES

    @extend_schema(
        tags=TAGS, summary="Send a chat message.", request=_Body, responses={200: _Basic}
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        token: IntegrationToken = request.auth  # type: ignore[assignment]
        services.bot_message_send(
            stream=self.stream,
            token=token,
            body=_data(request).get("body"),
            address=client_ip(request),
            as_name=_data(request).get("user") if self.named else None,
        )
        return simple_response(True, "sent")

    #: Whether the body's `user` names the sender (Owncast 0.0.6's /chat/user).
    named = False


class ChatUserMessageView(ChatSendView):
    """Owncast 0.0.6's "Send a user chat message" {user, body}: the bot's message shown
    under `user` (a name the chat accepts as a display name)."""

    named = True

    @extend_schema(
        tags=TAGS,
        summary="Send a user chat message.",
        request=inline(
            "OwncastUserMessage",
            {"user": serializers.CharField(required=False), "body": serializers.CharField()},
        ),
        responses={200: _Basic},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        return super().post(request, slug)


class ChatSystemView(OwncastIntegrationView):
    """A SYSTEM message, stored and shown to everyone (CAN_SEND_SYSTEM_MESSAGES)."""

    owncast_scope = auth.CAN_SEND_SYSTEM_MESSAGES

    @extend_schema(
        tags=TAGS, summary="Send a system chat message.", request=_Body, responses={200: _Basic}
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        chat_services.system_message_send(
            stream=self.stream, body=_data(request).get("body"), actor=request.user, request=request
        )
        return simple_response(True, "sent")


class ChatSystemToClientView(OwncastIntegrationView):
    """A SYSTEM message to one connected client, not stored (CAN_SEND_SYSTEM_MESSAGES).

    The client id is what that socket's CONNECTED_USER_INFO told it (`clientId`).
    """

    owncast_scope = auth.CAN_SEND_SYSTEM_MESSAGES
    error_statuses = {
        **OwncastIntegrationView.error_statuses,
        "500": 'No such client connected (`{"error": …}`, as Owncast answers)',
    }

    @extend_schema(
        tags=TAGS,
        summary="Send system chat message to a client, identified by its ClientId",
        request=_Body,
        parameters=[OpenApiParameter("clientId", int, OpenApiParameter.PATH)],
        responses={200: _Basic},
    )
    def post(self, request: Request, client_id: str, slug: str | None = None) -> Response:
        stream = self.stream
        connection_id = parse_id(client_id)
        sent = connection_id is not None and chat_services.system_message_to_connection(
            stream=stream,
            connection_id=connection_id,
            body=_data(request).get("body"),
            actor=request.user,
            request=request,
        )
        if not sent:
            return error_response(f"client {client_id[:40]} is not connected", 500)
        return simple_response(True, "sent")


class ChatActionView(OwncastIntegrationView):
    """A CHAT_ACTION line, `<author> <body>` (CAN_SEND_SYSTEM_MESSAGES); not stored."""

    owncast_scope = auth.CAN_SEND_SYSTEM_MESSAGES

    @extend_schema(
        tags=TAGS,
        summary="Send a chat action.",
        request=inline(
            "OwncastChatAction",
            {"body": serializers.CharField(), "author": serializers.CharField(required=False)},
        ),
        responses={200: _Basic},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        data = _data(request)
        body, author = data.get("body"), data.get("author")
        if isinstance(body, str) and isinstance(author, str) and author.strip():
            body = f"{author.strip()} {body}"
        chat_services.chat_action_send(
            stream=self.stream, body=body, actor=request.user, request=request
        )
        return simple_response(True, "sent")


class MessageVisibilityView(OwncastIntegrationView):
    """Hide or show messages (HAS_ADMIN_ACCESS): connected clients remove or restore them.

    Served at the 0.0.10 router's /chat/messagevisibility and the document's
    /chat/updatemessagevisibility.
    """

    owncast_scope = auth.HAS_ADMIN_ACCESS

    @extend_schema(
        tags=TAGS,
        summary="Update the visibility of chat messages.",
        request=_Visibility,
        responses={200: _Basic},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        return moderation.visibility_set(request, self.stream)


class UserEnabledView(OwncastIntegrationView):
    """Disable a chat user (a ban on this stream, their messages hidden) or enable them
    again (their bans lifted), HAS_ADMIN_ACCESS; Owncast's admin setenabled, for tokens."""

    owncast_scope = auth.HAS_ADMIN_ACCESS

    @extend_schema(
        tags=TAGS,
        summary="Enable or disable a single user.",
        request=inline(
            "OwncastUserEnabled",
            {"userId": serializers.CharField(), "enabled": serializers.BooleanField()},
        ),
        responses={200: _Basic},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        return moderation.user_enabled_set(request, self.stream)


class ClientsView(OwncastIntegrationView):
    """The chat clients connected now (HAS_ADMIN_ACCESS), as Owncast's ClientsResponse."""

    owncast_scope = auth.HAS_ADMIN_ACCESS

    @extend_schema(
        tags=TAGS,
        summary="Return a list of currently connected clients",
        responses={200: OpenApiResponse(description="Owncast's ClientArray")},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.connected_clients(self.stream))


class ChatHistoryView(OwncastIntegrationView):
    """The chat backlog (HAS_ADMIN_ACCESS), as GET /api/chat lists it."""

    owncast_scope = auth.HAS_ADMIN_ACCESS

    @extend_schema(
        tags=TAGS,
        summary="Historical Chat Messages",
        responses={200: OwncastChatEventSerializer(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.chat_history(self.stream))
