from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.channels.models import Channel
from apps.channels.replays.models import Replay
from castcore.api.fields import BoundedDateTimeField, ModelSerializer


class WallClockDateTimeField(BoundedDateTimeField):
    """A date-time whose offset may be left out: the service then reads it in the zone it
    belongs to (a re-air's: its channel's), not the server's."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


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
    reair_channel = serializers.PrimaryKeyRelatedField(
        queryset=Channel.objects.all(),
        allow_null=True,
        required=False,
        help_text="Re-air it once on this channel at `reair_at` (a playout row and a guide "
        "entry with the replay's title and description); null: no re-air.",
    )
    reair_at = WallClockDateTimeField(
        allow_null=True,
        required=False,
        help_text="When the re-air starts; without an offset it is the channel's local time. "
        "Read back with the channel's offset. Must be in the future and not overlap another "
        "re-air on the channel (409 `replay.reair_overlaps`).",
    )

    class Meta:
        model = Replay
        fields = [
            "id", "recording", "title", "description", "visibility", "publish", "published",
            "published_at", "page_url", "duration", "reair_channel", "reair_at", "owner",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["published_at", "owner", "created_at", "updated_at"]

    def to_representation(self, instance: Replay) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        channel, at = instance.reair_channel, instance.reair_at
        if channel is not None and at is not None:
            data["reair_at"] = at.astimezone(channel.zone).isoformat()
        return data


class ReplayUpdateSerializer(ReplaySerializer):
    recording = serializers.IntegerField(source="recording_id", read_only=True)
    title = serializers.CharField(max_length=200)

    class Meta(ReplaySerializer.Meta):
        fields = [name for name in ReplaySerializer.Meta.fields if name != "publish"]
