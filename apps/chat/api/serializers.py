"""Serializers of the chat API (snake_case, like the rest of /api/v1)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.chat import conf
from apps.chat.models import (
    BanKind,
    ChatBan,
    ChatIdentity,
    ChatMessage,
    ChatModerator,
    ChatSettings,
)
from castcore.api.fields import ChoiceField, ModelSerializer
from castcore.api.filters import MAX_ID


class ChatIdentitySerializer(ModelSerializer[ChatIdentity]):
    """Who writes in chat; never its address or token."""

    authenticated = serializers.SerializerMethodField()

    class Meta:
        model = ChatIdentity
        fields = [
            "id", "display_name", "display_color", "previous_names", "authenticated", "user",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_authenticated(self, obj: ChatIdentity) -> bool:
        return obj.user_id is not None


class ChatIdentityListSerializer(ChatIdentitySerializer):
    connected = serializers.BooleanField(
        read_only=True, help_text="Has a socket on the stream now."
    )
    banned = serializers.BooleanField(read_only=True, help_text="A ban or timeout is in force.")

    class Meta(ChatIdentitySerializer.Meta):
        fields = [*ChatIdentitySerializer.Meta.fields, "connected", "banned"]
        read_only_fields = fields


class AuthorSerializer(serializers.Serializer[ChatIdentity]):
    id = serializers.IntegerField()
    display_color = serializers.IntegerField()
    authenticated = serializers.SerializerMethodField()

    def get_authenticated(self, obj: ChatIdentity) -> bool:
        return obj.user_id is not None


class ChatMessageSerializer(ModelSerializer[ChatMessage]):
    author = AuthorSerializer(read_only=True, allow_null=True)
    body_html = serializers.CharField(read_only=True, help_text="Rendered markup, safe in a page.")

    class Meta:
        model = ChatMessage
        fields = [
            "id", "kind", "author", "author_name", "body", "body_html", "sent_at", "visible",
            "hidden_at", "session",
        ]  # fmt: skip
        read_only_fields = fields


class SystemMessageSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=conf.MAX_MESSAGE_LENGTH * 4, trim_whitespace=False)


class VisibilitySerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=500
    )
    visible = serializers.BooleanField()


class VisibilityResultSerializer(serializers.Serializer[Any]):
    changed = serializers.ListField(child=serializers.IntegerField())


class BanCreateSerializer(serializers.Serializer[Any]):
    kind = ChoiceField(choices=BanKind.choices)
    duration_seconds = serializers.IntegerField(
        min_value=1,
        max_value=366 * 24 * 3600,
        required=False,
        allow_null=True,
        help_text="Timeouts: how long.",
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    hide_messages = serializers.BooleanField(
        required=False, default=False, help_text="Hide what the identity wrote in this stream."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == BanKind.TIMEOUT and not attrs.get("duration_seconds"):
            raise serializers.ValidationError(
                {"duration_seconds": "required for a timeout"}, code="required"
            )
        return attrs


class ChatBanSerializer(ModelSerializer[ChatBan]):
    identity = ChatIdentitySerializer(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    by_address = serializers.SerializerMethodField(
        help_text="The ban also holds the identity's address (the address itself is not shown)."
    )

    class Meta:
        model = ChatBan
        fields = [
            "id", "identity", "kind", "reason", "until", "created_by", "created_at", "lifted_at",
            "active", "by_address",
        ]  # fmt: skip
        read_only_fields = fields

    def get_by_address(self, obj: ChatBan) -> bool:
        return obj.address is not None


class ChatSettingsSerializer(ModelSerializer[ChatSettings]):
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=3600, required=False)

    class Meta:
        model = ChatSettings
        fields = [
            "slow_mode_seconds", "signed_in_only", "closed_when_offline", "ban_by_address",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["updated_at"]


class ChatModeratorSerializer(ModelSerializer[ChatModerator]):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ChatModerator
        fields = ["user", "username", "granted_by", "created_at"]
        read_only_fields = ["username", "granted_by", "created_at"]


class RegisterSerializer(serializers.Serializer[Any]):
    display_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, trim_whitespace=False
    )


class RegisteredSerializer(serializers.Serializer[Any]):
    access_token = serializers.CharField(
        help_text="The identity's chat token, shown once: send it as the socket's `access_token`."
    )
    user = ChatIdentitySerializer()
