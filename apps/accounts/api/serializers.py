from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import ApiToken, AuditEntry, User, UserPreferences
from apps.accounts.roles import ROLE_DESCRIPTIONS, Role
from castcore.api.fields import ChoiceField, ModelSerializer


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    result = ChoiceField(choices=["ok"], default="ok")
    access = serializers.CharField()
    refresh = serializers.CharField()


class TwoFactorRequiredSerializer(serializers.Serializer):
    result = ChoiceField(choices=["auth.2fa_required"])
    challenge = serializers.CharField()
    expires_in = serializers.IntegerField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class AccessSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TwoFactorVerifySerializer(serializers.Serializer):
    challenge = serializers.CharField()
    code = serializers.RegexField(r"^\d{6,8}$")


class TwoFactorCodeSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^\d{6,8}$")


class EnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 TOTP secret, shown once.")
    provisioning_uri = serializers.CharField(help_text="otpauth:// URI for authenticator apps.")
    qr_svg = serializers.CharField(help_text="The provisioning URI as an SVG QR code.")


class UserSerializer(ModelSerializer):
    password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, style={"input_type": "password"}
    )
    role = ChoiceField(choices=Role.choices, default=Role.VIEWER)
    has_2fa = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_active",
            "is_temporary",
            "has_2fa",
            "date_joined",
            "last_login",
            "password",
        ]
        read_only_fields = ["id", "is_temporary", "date_joined", "last_login"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError(
                {"password": [serializers.ErrorDetail("This field is required.", code="required")]}
            )
        return attrs


class MeSerializer(ModelSerializer):
    """The signed-in user: the user fields anyone may read about themselves."""

    has_2fa = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            f
            for f in UserSerializer.Meta.fields
            if f not in {"password", "is_active", "is_temporary", "date_joined"}
        ]
        read_only_fields = fields


class RoleSerializer(serializers.Serializer):
    id = ChoiceField(choices=Role.choices)
    name = serializers.CharField()
    description = serializers.CharField()

    @staticmethod
    def all_roles() -> list[dict[str, str]]:
        return [
            {"id": role.value, "name": str(role.label), "description": ROLE_DESCRIPTIONS[role]}
            for role in Role
        ]


class ApiTokenSerializer(ModelSerializer):
    token = serializers.CharField(source="masked", read_only=True)
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "token",
            "read_only",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]
        read_only_fields = ["id", "token", "created_at", "last_used_at", "revoked", "revoked_at"]

    def get_revoked(self, token: ApiToken) -> bool:
        return token.revoked_at is not None


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The full token, shown only now.")


class PreferencesSerializer(ModelSerializer):
    class Meta:
        model = UserPreferences
        fields = ["language", "timezone", "theme", "notify_on_job_failure"]


class AuditEntrySerializer(ModelSerializer):
    actor = serializers.CharField(source="actor_repr", read_only=True)
    actor_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_id",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "ip",
            "source",
            "changes",
        ]
        read_only_fields = fields
