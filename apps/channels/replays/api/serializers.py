from __future__ import annotations

from rest_framework import serializers

from apps.channels.replays.models import Replay
from castcore.api.fields import ModelSerializer


class ReplaySerializer(ModelSerializer):
    recording = serializers.IntegerField(
        source="recording_id",
        min_value=1,
        help_text="A finished video recording (of a live stream, a job or a channel) you may "
        "see; fixed once published.",
    )
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Default: the recording's."
    )
    publish = serializers.BooleanField(
        write_only=True,
        default=True,
        help_text="false: keep it a draft (a scheduled `replay.publish` action publishes it).",
    )
    published = serializers.BooleanField(source="is_published", read_only=True)
    page_url = serializers.CharField(source="page_path", read_only=True)
    duration = serializers.FloatField(source="recording.duration", read_only=True)

    class Meta:
        model = Replay
        fields = [
            "id", "recording", "title", "description", "visibility", "publish", "published",
            "published_at", "page_url", "duration", "owner", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["published_at", "owner", "created_at", "updated_at"]


class ReplayUpdateSerializer(ReplaySerializer):
    recording = serializers.IntegerField(source="recording_id", read_only=True)
    title = serializers.CharField(max_length=200)

    class Meta(ReplaySerializer.Meta):
        fields = [name for name in ReplaySerializer.Meta.fields if name != "publish"]
