from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.media.models import Asset
from apps.media.selectors import usable_assets
from apps.streams.api.serializers import StreamOutputSerializer
from apps.streams.live import ingest, viewers
from apps.streams.live.models import (
    LatencyLevel,
    LiveSession,
    LiveStream,
    LiveVisibility,
    ViewerSample,
)
from apps.streams.live.selectors import LiveState, live_stream_state, may_manage_live_stream
from apps.streams.models import FFmpegProfile
from castcore.api.fields import ChoiceField, ModelSerializer, SecretField
from castcore.secrets import mask

# A key a user chooses: fits an RTMP path segment and SRT's passphrase (10-79 characters).
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,79}$")


class LiveSessionSerializer(ModelSerializer):
    class Meta:
        model = LiveSession
        fields = [
            "id", "protocol", "started_at", "disconnected_at", "ended_at", "reconnects",
            "video_codec", "audio_codec", "width", "height", "fps", "video_bitrate_kbps",
            "audio_bitrate_kbps", "encoder", "peak_viewers", "recording",
        ]  # fmt: skip
        read_only_fields = fields


class SocialLinkSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=50)
    url = serializers.URLField(max_length=500)


class IngestSerializer(serializers.Serializer):
    rtmp_url = serializers.CharField(help_text="OBS's Server; the key goes in Stream key.")
    srt_url = serializers.CharField(
        allow_null=True, help_text="The SRT listener (the key is its passphrase); null: off."
    )


class IngestKeyField(SecretField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _KEY.match(value):
            raise serializers.ValidationError(
                "16 to 79 letters, digits, - or _.", code="invalid_key"
            )
        return value


# What only those who may manage a stream read: its restream targets (with their addresses),
# its ingest, its job and profile, and the masked key.
MANAGER_FIELDS = (
    "profile", "outputs", "recording_enabled", "srt_enabled", "srt_port", "ingest_key",
    "ingest_key_masked", "ingest_key_rotated_at", "ingest", "job",
)  # fmt: skip


class LogoField(serializers.PrimaryKeyRelatedField):
    """An asset the caller may use (apps.media.selectors.usable_assets); others are a 400
    as a missing one is, so that an id does not tell whether someone else's asset exists."""

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return usable_assets(getattr(request, "user", None))


class LiveStreamSerializer(ModelSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False
    )
    social_links = SocialLinkSerializer(many=True, required=False)
    variants = serializers.JSONField(
        required=False,
        help_text="The HLS ladder, highest first: [{name, passthrough, width, height, "
        "video_bitrate_kbps, fps, audio_bitrate_kbps}].",
    )
    visibility = ChoiceField(choices=LiveVisibility.choices, required=False)
    latency_level = ChoiceField(
        choices=LatencyLevel.choices,
        required=False,
        help_text="0 (lowest latency) to 4 (most tolerant of slow networks).",
    )
    logo = LogoField(queryset=Asset.objects.all(), allow_null=True, required=False)
    profile = serializers.PrimaryKeyRelatedField(
        source="job.profile",
        queryset=FFmpegProfile.objects.all(),
        help_text="The encoding profile of the restream outputs.",
    )
    outputs = StreamOutputSerializer(
        source="job.outputs",
        many=True,
        required=False,
        help_text="Restream targets (the stream job output kinds), each on or off.",
    )
    recording_enabled = serializers.BooleanField(source="job.recording_enabled", required=False)
    ingest_key = IngestKeyField(
        write_only=True,
        required=False,
        help_text="Write-only. Unset on create: CastCore makes one and returns it once.",
    )
    ingest_key_masked = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    session = serializers.SerializerMethodField()
    ingest = serializers.SerializerMethodField()
    viewer_count = serializers.SerializerMethodField()

    class Meta:
        model = LiveStream
        fields = [
            "id", "name", "slug", "title", "summary", "tags", "logo", "page_content", "nsfw",
            "social_links", "visibility", "latency_level", "variants", "profile", "outputs",
            "recording_enabled", "srt_enabled", "srt_port", "ingest_key", "ingest_key_masked",
            "ingest_key_rotated_at", "state", "session", "ingest", "job", "owner",
            "viewer_count", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "srt_port", "ingest_key_rotated_at", "job", "owner", "created_at", "updated_at",
        ]  # fmt: skip
        extra_kwargs = {"page_content": {"help_text": "HTML; sanitised (nh3) when saved."}}

    def to_representation(self, instance: LiveStream) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        request = self.context.get("request")
        # Answers made without a request are the managers' own (create, stop, revoke-key).
        if request is not None and not may_manage_live_stream(request.user, instance):
            for name in MANAGER_FIELDS:
                data.pop(name, None)
        return data

    @extend_schema_field(serializers.IntegerField(help_text="Viewers now (0 when nobody watches)."))
    def get_viewer_count(self, stream: LiveStream) -> int:
        counts = self.context.get("viewer_counts")
        if counts is not None and stream.pk in counts:
            return int(counts[stream.pk])
        return viewers.viewer_count(stream.pk)

    @extend_schema_field(serializers.CharField(help_text="The ingest key, masked (`••••1234`)."))
    def get_ingest_key_masked(self, stream: LiveStream) -> str:
        return mask(stream.ingest_key)

    @extend_schema_field(ChoiceField(choices=LiveState.CHOICES))
    def get_state(self, stream: LiveStream) -> str:
        return live_stream_state(stream).state

    @extend_schema_field(LiveSessionSerializer(allow_null=True))
    def get_session(self, stream: LiveStream) -> dict[str, Any] | None:
        session = live_stream_state(stream).session
        return LiveSessionSerializer(session).data if session else None

    @extend_schema_field(IngestSerializer)
    def get_ingest(self, stream: LiveStream) -> dict[str, Any]:
        return {"rtmp_url": ingest.rtmp_ingest_url(), "srt_url": ingest.srt_ingest_url(stream)}


class LiveStreamCreatedSerializer(LiveStreamSerializer):
    """The created stream, with its key in clear: this response is the only one that has it."""

    ingest_key = serializers.CharField(read_only=True, help_text="Shown this once.")  # type: ignore[assignment]


class ViewerSampleSerializer(ModelSerializer):
    class Meta:
        model = ViewerSample
        fields = ["at", "count"]
        read_only_fields = fields


class ViewerSampleQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)


class IngestKeySerializer(serializers.Serializer):
    ingest_key = serializers.CharField(help_text="The new key, in clear: shown this once.")
    ingest_key_masked = serializers.CharField()
