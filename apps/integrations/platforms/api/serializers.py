from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.integrations.platforms.catalogue import PlatformType, platform_get
from apps.integrations.platforms.models import (
    PLATFORM_CHOICES,
    AccountKind,
    AccountStatus,
    PlatformAccount,
    PlatformMetadata,
)
from apps.integrations.platforms.services import ingest_url_problem
from castcore.api.fields import (
    MASKED_URL_HELP,
    ChoiceField,
    MaskedUrlField,
    ModelSerializer,
    SecretField,
    remember_url,
    unmasked_url,
)
from workers.ffmpeg.masking import mask_url


class PlatformAccountSerializer(ModelSerializer[PlatformAccount]):
    """Create makes a stream key account; OAuth accounts come from oauth/callback."""

    platform = ChoiceField(choices=PLATFORM_CHOICES)
    kind = ChoiceField(choices=AccountKind.choices, read_only=True)
    status = ChoiceField(choices=AccountStatus.choices, read_only=True)
    stream_key = SecretField(required=False, allow_blank=True)
    ingest_url = MaskedUrlField(
        required=False, allow_blank=True, max_length=1024, help_text=MASKED_URL_HELP
    )
    linked = serializers.BooleanField(read_only=True)

    class Meta:
        model = PlatformAccount
        fields = [
            "id", "name", "platform", "kind", "status", "ingest_url", "stream_key", "linked",
            "external_id", "external_name", "token_expires_at", "last_test_code",
            "last_tested_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "external_id", "external_name", "token_expires_at", "last_test_code",
            "last_tested_at", "created_at", "updated_at",
        ]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        if "ingest_url" in attrs:
            stored = instance.ingest_url if instance is not None else ""
            attrs["ingest_url"] = unmasked_url(
                stored,
                attrs["ingest_url"],
                shown=mask_url(stored),
                field="ingest_url",
                code="platform.masked_url",
            )
            remember_url(attrs["ingest_url"])
        if instance is not None and instance.kind == AccountKind.OAUTH:
            # The platform hands these out; a pasted key would never be used.
            for field in ("ingest_url", "stream_key", "platform"):
                if field in attrs and attrs[field] != getattr(instance, field):
                    raise serializers.ValidationError(
                        {field: "set by the platform for a linked account"},
                        code="platform.field_read_only",
                    )
            return attrs
        platform = attrs.get("platform") or (instance.platform if instance else "")
        url = attrs.get("ingest_url", instance.ingest_url if instance else "")
        entry = platform_get(platform)
        if not url and entry is not None and entry.ingest_servers:
            url = attrs["ingest_url"] = entry.ingest_servers[0].url  # the platform's default
        problem = ingest_url_problem(url)
        if problem:
            raise serializers.ValidationError(
                {"ingest_url": problem}, code="platform.ingest_url_invalid"
            )
        if platform == PlatformType.CUSTOM_SRT and not url.startswith("srt:"):
            raise serializers.ValidationError(
                {"ingest_url": "custom SRT needs srt://"}, code="platform.ingest_url_invalid"
            )
        if instance is None:
            if not attrs.get("stream_key"):
                raise serializers.ValidationError(
                    {"stream_key": "required for a stream key account"}, code="required"
                )
            attrs["kind"] = AccountKind.STREAM_KEY
        return attrs


class PlatformTestSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    code = serializers.CharField()


class OAuthStartSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    account = serializers.PrimaryKeyRelatedField(
        queryset=PlatformAccount.objects.all(),
        required=False,
        allow_null=True,
        help_text="re-link this account",
    )


class OAuthLinkSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(
        help_text="Open it in a browser, once: it goes to the platform and back to the "
        "account's admin page."
    )
    expires_in = serializers.IntegerField(help_text="seconds the link works for")


class IngestServerSerializer(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.CharField()


class PlatformRuleSerializer(serializers.Serializer[Any]):
    keyframe_interval_s = serializers.FloatField()
    max_kbps_by_height = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField())
    )
    requires_rtmps = serializers.BooleanField()
    video_codecs = serializers.ListField(child=serializers.CharField())
    audio_codecs = serializers.ListField(child=serializers.CharField())
    audio_sample_rates = serializers.ListField(child=serializers.IntegerField())


class CatalogueEntrySerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    name = serializers.CharField()
    oauth = serializers.BooleanField()
    ingest_servers = IngestServerSerializer(many=True)
    rules = PlatformRuleSerializer(source="rule", allow_null=True)


class PlatformMetadataSerializer(ModelSerializer[PlatformMetadata]):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )

    class Meta:
        model = PlatformMetadata
        fields = [
            "platform", "title", "description", "tags", "category", "privacy", "updated_at",
            "last_push_code", "last_push_at",
        ]  # fmt: skip
        read_only_fields = ["platform", "updated_at", "last_push_code", "last_push_at"]


class MetadataResolveSerializer(serializers.Serializer[Any]):
    job = serializers.IntegerField(help_text="stream job id")
    platform = ChoiceField(choices=PLATFORM_CHOICES)
    # Optional templates to try out; the job's stored ones are used when left out.
    title = serializers.CharField(required=False, allow_blank=True, max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )
    category = serializers.CharField(required=False, allow_blank=True, max_length=200)
    privacy = serializers.CharField(required=False, allow_blank=True, max_length=10)


class ResolvedMetadataSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    category = serializers.CharField()
    privacy = serializers.CharField()
