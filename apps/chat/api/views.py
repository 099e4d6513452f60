"""/api/v1/live-streams/<id>/chat/…: messages, moderation, identities and settings of a chat.

RBAC: Viewers read messages (hidden ones only for moderators); identities and bans
are for moderators; the stream's operators
and its moderators moderate (hide/show, time out, ban, settings); operators grant
moderators and send system messages. The moderation routes declare
`write_role = Role.VIEWER` because a Viewer granted the moderator role on a stream
may use them; the view checks the role on the stream itself (403 otherwise).

Integration access tokens (`Bearer cci_…`) are taken next to users' credentials: each
view names the scope a token needs per method (`token_scopes`; apps.integrations.
authentication.ScopeOrRolePermission), and a method it does not name is refused. A token
is not a person: its scope stands for the role on the stream (chat.moderate moderates,
chat.system sends system messages), on every stream of the instance.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import Role
from apps.chat import conf, selectors, services
from apps.chat.api import serializers as s
from apps.chat.filters import ChatBanFilter, ChatIdentityFilter, ChatMessageFilter
from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, ChatModerator
from apps.integrations.authentication import (
    TOKEN_OR_USER_AUTHENTICATION,
    ScopeOrRolePermission,
    integration_token_of,
)
from apps.integrations.models import Scope
from apps.integrations.tokens import integration_token_chat_identity
from apps.streams.models import LiveStream
from castcore.api.schema import error_statuses_for
from castcore.api.throttling import ClientScopedRateThrottle
from castcore.client_ip import client_ip

CHAT_ERRORS = error_statuses_for(services.ERROR_STATUSES)


class _StreamChatView(generics.GenericAPIView):
    """The stream in the URL (404 when it does not exist or the user may not read it)."""

    error_statuses = CHAT_ERRORS
    authentication_classes = TOKEN_OR_USER_AUTHENTICATION
    permission_classes = [ScopeOrRolePermission]
    # The scope an integration token needs per method; none named: tokens are refused.
    token_scopes: dict[str, str] = {}

    def stream(self) -> LiveStream:
        if not hasattr(self, "_stream"):
            stream = LiveStream.objects.filter(pk=self.kwargs["stream_id"]).first()
            # A token's scopes hold on every stream (it was issued by an Admin).
            token = integration_token_of(self.request)
            if stream is None or (
                token is None and not selectors.may_read(self.request.user, stream)
            ):
                raise NotFound()
            self._stream = stream
        return self._stream

    def is_moderator(self) -> bool:
        token = integration_token_of(self.request)
        if token is not None:
            return token.has_scope(Scope.MODERATE)
        return selectors.may_moderate(self.request.user, self.stream())

    def require_moderator(self) -> None:
        if not self.is_moderator():
            raise PermissionDenied(code="permission.not_moderator")

    def require_operator(self) -> None:
        if integration_token_of(self.request) is not None:
            return  # ScopeOrRolePermission checked the scope this method needs
        if not selectors.may_operate(self.request.user, self.stream()):
            raise PermissionDenied(code="permission.not_operator")


class ChatMessagesView(_StreamChatView, generics.ListAPIView):
    """GET: the stream's messages (hidden ones for moderators). POST: a system message."""

    serializer_class = s.ChatMessageSerializer
    filterset_class = ChatMessageFilter
    ordering_fields = ["id", "sent_at"]
    ordering = ["id"]
    queryset = ChatMessage.objects.none()
    write_role = Role.OPERATOR
    token_scopes = {"GET": Scope.READ, "POST": Scope.CHAT_SYSTEM}

    def get_queryset(self) -> QuerySet[ChatMessage]:
        if getattr(self, "swagger_fake_view", False):
            return ChatMessage.objects.none()
        return selectors.messages_for(
            self.request.user, self.stream(), moderator=self.is_moderator()
        ).order_by("id")

    @extend_schema(request=s.SystemMessageSerializer, responses={201: s.ChatMessageSerializer})
    def post(self, request: Request, stream_id: int) -> Response:
        self.require_operator()
        body = s.SystemMessageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.system_message_send(
            stream=self.stream(),
            body=body.validated_data["body"],
            actor=request.user,
            request=request,
        )
        return Response(s.ChatMessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ChatVisibilityView(_StreamChatView):
    """Hide or show messages: connected clients remove or restore them at once."""

    write_role = Role.VIEWER  # a stream's moderator may be a Viewer (checked here)
    serializer_class = s.VisibilitySerializer
    token_scopes = {"POST": Scope.MODERATE}

    @extend_schema(request=s.VisibilitySerializer, responses={200: s.VisibilityResultSerializer})
    def post(self, request: Request, stream_id: int) -> Response:
        self.require_moderator()
        body = s.VisibilitySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = services.messages_set_visibility(
            stream=self.stream(),
            message_ids=body.validated_data["ids"],
            visible=body.validated_data["visible"],
            actor=request.user,
            request=request,
        )
        return Response({"changed": changed})


class ChatIdentitiesView(_StreamChatView, generics.ListAPIView):
    """Identities that wrote in, are connected to, or are banned from the stream's chat
    (the stream's moderators only)."""

    serializer_class = s.ChatIdentityListSerializer
    filterset_class = ChatIdentityFilter
    ordering_fields = ["id", "display_name"]
    queryset = ChatIdentity.objects.none()
    token_scopes = {"GET": Scope.MODERATE}  # the moderators' business, like the ban list

    def get_queryset(self) -> QuerySet[ChatIdentity]:
        if getattr(self, "swagger_fake_view", False):
            return ChatIdentity.objects.none()
        # Who is banned, and the addresses and past names of identities, are the
        # moderators' business: a Viewer reads messages, not the ban list.
        self.require_moderator()
        stream = self.stream()
        connected = selectors.connected(stream).filter(identity=OuterRef("pk"))
        banned = ChatBan.objects.filter(ChatBan.active_q(), stream=stream, identity=OuterRef("pk"))
        wrote = ChatMessage.objects.filter(stream=stream, author=OuterRef("pk"))
        any_ban = ChatBan.objects.filter(stream=stream, identity=OuterRef("pk"))
        identities = ChatIdentity.objects.annotate(
            connected=Exists(connected), banned=Exists(banned)
        ).filter(Q(connected=True) | Q(banned=True) | Exists(wrote) | Exists(any_ban))
        return identities.order_by("id")


class ChatIdentityBanView(_StreamChatView):
    """Time out or ban an identity on the stream (and, by setting, its address)."""

    write_role = Role.VIEWER  # a stream's moderator may be a Viewer (checked here)
    serializer_class = s.BanCreateSerializer
    token_scopes = {"POST": Scope.MODERATE}

    @extend_schema(request=s.BanCreateSerializer, responses={201: s.ChatBanSerializer})
    def post(self, request: Request, stream_id: int, identity_id: int) -> Response:
        self.require_moderator()
        identity = ChatIdentity.objects.filter(pk=identity_id).first()
        if identity is None:
            raise NotFound()
        body = s.BanCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ban = services.identity_ban(
            stream=self.stream(),
            identity=identity,
            kind=body.validated_data["kind"],
            duration_seconds=body.validated_data.get("duration_seconds"),
            reason=body.validated_data["reason"],
            hide_messages=body.validated_data["hide_messages"],
            actor=request.user,
            request=request,
        )
        return Response(s.ChatBanSerializer(ban).data, status=status.HTTP_201_CREATED)


class ChatBansView(_StreamChatView, generics.ListAPIView):
    """The stream's bans and timeouts, newest first (`?active=true`: those in force; the
    stream's moderators only)."""

    serializer_class = s.ChatBanSerializer
    filterset_class = ChatBanFilter
    queryset = ChatBan.objects.none()
    token_scopes = {"GET": Scope.MODERATE}

    def get_queryset(self) -> QuerySet[ChatBan]:
        if getattr(self, "swagger_fake_view", False):
            return ChatBan.objects.none()
        self.require_moderator()
        return ChatBan.objects.filter(stream=self.stream()).select_related("identity")


class ChatBanDetailView(_StreamChatView):
    """DELETE lifts a ban or timeout now."""

    write_role = Role.VIEWER  # a stream's moderator may be a Viewer (checked here)
    serializer_class = s.ChatBanSerializer
    token_scopes = {"GET": Scope.MODERATE, "DELETE": Scope.MODERATE}

    def get(self, request: Request, stream_id: int, ban_id: int) -> Response:
        return Response(s.ChatBanSerializer(self._ban()).data)

    def _ban(self) -> ChatBan:
        ban = (
            ChatBan.objects.filter(stream=self.stream(), pk=self.kwargs["ban_id"])
            .select_related("identity", "stream")
            .first()
        )
        if ban is None:
            raise NotFound()
        return ban

    @extend_schema(responses={204: None})
    def delete(self, request: Request, stream_id: int, ban_id: int) -> Response:
        self.require_moderator()
        services.ban_lift(ban=self._ban(), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChatSettingsView(_StreamChatView):
    """The stream's chat rules: slow mode, signed-in only, closed while offline, bans by address."""

    write_role = Role.VIEWER  # a stream's moderator may be a Viewer (checked here)
    serializer_class = s.ChatSettingsSerializer
    token_scopes = {"GET": Scope.READ, "PATCH": Scope.MODERATE}

    def get(self, request: Request, stream_id: int) -> Response:
        return Response(s.ChatSettingsSerializer(selectors.settings_for(self.stream())).data)

    def patch(self, request: Request, stream_id: int) -> Response:
        self.require_moderator()
        current = selectors.settings_for(self.stream())
        body = s.ChatSettingsSerializer(current, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        updated = services.chat_settings_update(
            stream=self.stream(),
            fields=dict(body.validated_data),
            actor=request.user,
            request=request,
        )
        return Response(s.ChatSettingsSerializer(updated).data)


class ChatModeratorsView(_StreamChatView, generics.ListAPIView):
    """The stream's moderators. POST grants the role (the stream's operators only)."""

    serializer_class = s.ChatModeratorSerializer
    queryset = ChatModerator.objects.none()
    write_role = Role.OPERATOR
    # Granting people a role on a stream stays with its operators: no token scope does it.
    token_scopes = {"GET": Scope.READ}

    def get_queryset(self) -> QuerySet[ChatModerator]:
        if getattr(self, "swagger_fake_view", False):
            return ChatModerator.objects.none()
        return ChatModerator.objects.filter(stream=self.stream()).select_related("user")

    @extend_schema(request=s.ChatModeratorSerializer, responses={201: s.ChatModeratorSerializer})
    def post(self, request: Request, stream_id: int) -> Response:
        self.require_operator()
        body = s.ChatModeratorSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        moderator = services.moderator_grant(
            stream=self.stream(),
            user=body.validated_data["user"],
            actor=request.user,
            request=request,
        )
        return Response(s.ChatModeratorSerializer(moderator).data, status=status.HTTP_201_CREATED)


class ChatModeratorDetailView(_StreamChatView):
    """DELETE revokes a user's moderator role on the stream."""

    serializer_class = s.ChatModeratorSerializer
    write_role = Role.OPERATOR

    @extend_schema(responses={204: None})
    def delete(self, request: Request, stream_id: int, user_id: int) -> Response:
        self.require_operator()
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None or not services.moderator_revoke(
            stream=self.stream(), user=user, actor=request.user, request=request
        ):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChatSendView(_StreamChatView):
    """A chat message from the caller: a signed-in user as their chat identity, an
    integration (chat.send) as its own, named after the token. The chat's rules apply
    (bans, modes, rate limits), as on the socket."""

    write_role = Role.VIEWER  # whoever may chat on the socket may chat here
    serializer_class = s.SystemMessageSerializer
    token_scopes = {"POST": Scope.CHAT_SEND}

    @extend_schema(request=s.SystemMessageSerializer, responses={201: s.ChatMessageSerializer})
    def post(self, request: Request, stream_id: int) -> Response:
        stream = self.stream()
        body = s.SystemMessageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = integration_token_of(request)
        identity = (
            integration_token_chat_identity(token)
            if token is not None
            else services.identity_for_user(request.user)
        )
        message = services.message_send(
            stream=stream,
            identity=identity,
            body=body.validated_data["body"],
            address=client_ip(request),
            moderator=self.is_moderator(),
        )
        return Response(s.ChatMessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ChatRegisterThrottle(ClientScopedRateThrottle):
    THROTTLE_RATES = {"chat_register": conf.REGISTER_RATE}


class ChatRegisterView(_StreamChatView):
    """An anonymous chat identity for the stream's page: its token is shown once."""

    permission_classes = [AllowAny]
    public_methods = {"POST"}
    throttle_classes = [ChatRegisterThrottle]
    throttle_scope = "chat_register"
    serializer_class = s.RegisterSerializer

    @extend_schema(
        request=s.RegisterSerializer,
        responses={201: OpenApiResponse(s.RegisteredSerializer)},
    )
    def post(self, request: Request, stream_id: int) -> Response:
        stream = self.stream()  # 404 for a stream this client may not read
        body = s.RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        identity, token = services.identity_register(
            display_name=body.validated_data.get("display_name") or None, stream=stream
        )
        data: dict[str, Any] = {
            "access_token": token,
            "user": s.ChatIdentitySerializer(identity).data,
        }
        return Response(data, status=status.HTTP_201_CREATED)
