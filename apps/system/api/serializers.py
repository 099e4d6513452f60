from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.system.models import GlobalSettings
from castcore.api.fields import ChoiceField, ModelSerializer, SecretField


class GlobalSettingsSerializer(ModelSerializer):
    smtp_password = SecretField(required=False, allow_blank=True)

    class Meta:
        model = GlobalSettings
        fields = [
            "site_name",
            "public_url",
            "default_recording_visibility",
            "upload_auth_required",
            "unclaimed_hide_after_days",
            "unclaimed_delete_after_days",
            "smtp_host",
            "smtp_port",
            "smtp_username",
            "smtp_password",
            "smtp_from",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        hide = attrs.get(
            "unclaimed_hide_after_days", getattr(self.instance, "unclaimed_hide_after_days", 0)
        )
        delete = attrs.get(
            "unclaimed_delete_after_days", getattr(self.instance, "unclaimed_delete_after_days", 0)
        )
        if delete < hide:
            raise serializers.ValidationError(
                {
                    "unclaimed_delete_after_days": [
                        serializers.ErrorDetail("Must not be before hiding.", code="before_hide")
                    ]
                }
            )
        return attrs


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.DictField(required=False, help_text="Only for signed-in users.")


class HealthSerializer(serializers.Serializer):
    status = ChoiceField(choices=["ok", "warning", "unhealthy"])
    failing = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="Parts that work but need attention (200)."
    )
    checks = serializers.DictField(child=HealthCheckSerializer())
