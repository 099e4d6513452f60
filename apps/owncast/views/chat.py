"""Owncast's chat endpoints: POST /api/chat/register and GET /api/chat?accessToken=."""

from __future__ import annotations

from django.http.response import HttpResponseBase
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import selectors as chat_selectors
from apps.chat import services as chat_services
from apps.chat.api.views import ChatRegisterThrottle
from apps.chat.models import ChatIdentity
from apps.chat.services import ChatError
from apps.owncast import presenters
from apps.owncast.views.base import OwncastPublicView, OwncastUserView
from castcore.client_ip import client_ip

TAGS = ["owncast"]


class OwncastUserSerializer(serializers.Serializer):
    id = serializers.CharField()
    displayName = serializers.CharField()
    displayColor = serializers.IntegerField()
    createdAt = serializers.DateTimeField()
    previousNames = serializers.ListField(child=serializers.CharField())
    scopes = serializers.ListField(child=serializers.CharField())


class OwncastChatEventSerializer(serializers.Serializer):
    """A CHAT or SYSTEM event of Owncast's chat history."""

    type = serializers.ChoiceField(choices=["CHAT", "SYSTEM"])
    id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    user = OwncastUserSerializer()
    body = serializers.CharField(help_text="HTML: the escaped text with the chat's small markup")
    visible = serializers.BooleanField()


class RegisterView(OwncastPublicView):
    """An anonymous chat identity and its access token (Owncast's RegisterAnonymousChatUser).

    The name is the body's `displayName`, else the `X-Forwarded-User` header (a proxy's
    signed-in user), else a generated one; a name the chat refuses (forbidden, too long)
    gets a generated one, as Owncast never refuses a registration for its name.
    """

    throttle_classes = [ChatRegisterThrottle]
    throttle_scope = "chat_register"

    @extend_schema(
        tags=TAGS,
        summary="Register a chat user",
        request=inline_serializer(
            "OwncastRegister", {"displayName": serializers.CharField(required=False)}
        ),
        responses={
            200: inline_serializer(
                "OwncastRegistered",
                {
                    "id": serializers.CharField(),
                    "accessToken": serializers.CharField(),
                    "displayName": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        stream = self.stream  # 404 for a base with no public stream
        data = request.data if isinstance(request.data, dict) else {}
        name = data.get("displayName")
        if not isinstance(name, str) or not name.strip():
            name = request.headers.get("X-Forwarded-User", "")
        try:
            identity, token = chat_services.identity_register(
                display_name=name or None, stream=stream
            )
        except ChatError:
            identity, token = chat_services.identity_register()
        response = Response(
            {"id": str(identity.pk), "accessToken": token, "displayName": identity.display_name}
        )
        response["Cache-Control"] = "no-store"
        return response


class ChatMessagesView(OwncastUserView):
    """The chat backlog for a registered user (Owncast's GetChatMessages).

    A user banned or timed out on the stream is refused as Owncast refuses a disabled one.
    """

    @extend_schema(
        tags=TAGS,
        summary="Chat Messages Backlog",
        responses={200: OwncastChatEventSerializer(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> HttpResponseBase:
        stream = self.stream
        identity: ChatIdentity = request.auth  # type: ignore[assignment]
        if chat_selectors.active_ban(stream, identity, client_ip(request)) is not None:
            return self.unauthorized()
        return Response(presenters.chat_history(stream))
