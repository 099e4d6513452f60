from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.channels.models import (
    ALL_WEEKDAYS,
    Channel,
    ChannelOutput,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.play.recording import channel_recording_enabled
from apps.media.models import MediaItem, StorageSource
from castcore.api.fields import BoundedDateTimeField, ChoiceField, ModelSerializer, SecretField
from workers.ffmpeg.masking import mask_url

#: Restream targets a channel may push to (a subset of the stream jobs' output kinds).
RESTREAM_KINDS = ["rtmp", "rtmps", "srt"]


class PlaylistItemSerializer(ModelSerializer):
    playlist = serializers.PrimaryKeyRelatedField(
        source="child", queryset=Playlist.objects.all(), required=False, allow_null=True,
        help_text="kind=playlist: the playlist nested here (no cycles).",
    )  # fmt: skip
    media_item = serializers.PrimaryKeyRelatedField(
        queryset=MediaItem.objects.all(), required=False, allow_null=True
    )
    source = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=StorageSource.objects.all(), required=False, allow_null=True,
        help_text="kind=folder or source: the storage source.",
    )  # fmt: skip
    position = serializers.IntegerField(
        min_value=0, required=False, help_text="Where to insert; default: at the end."
    )
    in_point = serializers.FloatField(required=False, allow_null=True, min_value=0)
    out_point = serializers.FloatField(required=False, allow_null=True, min_value=0)

    class Meta:
        model = PlaylistItem
        fields = [
            "id", "position", "kind", "media_item", "source", "folder", "playlist",
            "in_point", "out_point",
        ]  # fmt: skip
        extra_kwargs = {"folder": {"help_text": "kind=folder: a folder inside the source."}}


class PlaylistSerializer(ModelSerializer):
    items = PlaylistItemSerializer(many=True, read_only=True)

    class Meta:
        model = Playlist
        fields = ["id", "name", "description", "order", "items", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is the service's (409 playlist.name_taken).
        extra_kwargs: dict[str, Any] = {"name": {"validators": []}}


class ChannelOutputSerializer(ModelSerializer):
    id = serializers.IntegerField(
        required=False, help_text="Send an existing output's id to keep its stream key unchanged."
    )
    kind = ChoiceField(choices=RESTREAM_KINDS, default="rtmp")
    stream_key = SecretField(required=False, allow_blank=True, max_length=1000)

    class Meta:
        model = ChannelOutput
        fields = ["id", "name", "kind", "url", "stream_key", "enabled"]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data["url"] = mask_url(data["url"] or "")
        return data

    def validate_url(self, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in RESTREAM_KINDS:
            raise serializers.ValidationError("unsupported scheme", code="invalid_url")
        return value


@extend_schema_field({"type": "string", "example": "https://tv.example/channels/news/index.m3u8"})
class _StreamUrlField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, value: Channel) -> str:
        request = self.context.get("request")
        path = value.stream_path()
        return request.build_absolute_uri(path) if request is not None else path


class ChannelSerializer(ModelSerializer):
    outputs = ChannelOutputSerializer(many=True, required=False)
    stream_url = _StreamUrlField(
        help_text="The channel's HLS; non-public channels' carry their access token."
    )
    job = serializers.IntegerField(
        source="player.job_id", read_only=True, allow_null=True,
        help_text="The stream job that plays the channel (null until it first plays or "
        "records).",
    )  # fmt: skip
    recording_job = serializers.IntegerField(
        source="player.relay_job_id", read_only=True, allow_null=True,
        help_text="The stream job that records the channel and feeds its restream outputs "
        "(null until it first records or restreams); the channel's recordings name it as "
        "`stream_job_id`: `GET /recordings?stream_job={recording_job}`.",
    )  # fmt: skip
    recording_enabled = serializers.SerializerMethodField(
        help_text="Whether the channel records what it airs: POST …/recording."
    )

    class Meta:
        model = Channel
        fields = [
            "id", "number", "name", "slug", "guide_id", "logo", "group", "time_zone",
            "output_profile", "filler_playlist", "filler_asset", "visibility", "mode",
            "enabled", "outputs", "stream_url", "job", "recording_job", "recording_enabled",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["guide_id", "created_at", "updated_at"]
        extra_kwargs = {
            # Uniqueness is the service's (409 channel.number_taken / slug_taken).
            "number": {"min_value": 1, "max_value": 99999, "validators": []},
            "slug": {"validators": []},
            "guide_id": {"help_text": "The XMLTV channel id (tvg-id); fixed at creation."},
            "time_zone": {"help_text": "IANA zone, e.g. Europe/Paris; schedule times are in it."},
        }

    @extend_schema_field(serializers.BooleanField())
    def get_recording_enabled(self, channel: Channel) -> bool:
        # No player until it first plays or records.
        return channel_recording_enabled(getattr(channel, "player", None))

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("blank", code="blank")
        return value


class ScheduleBlockSerializer(ModelSerializer):
    weekdays = serializers.IntegerField(
        min_value=1, max_value=ALL_WEEKDAYS, default=ALL_WEEKDAYS,
        help_text="Bit mask: Monday = 1, Tuesday = 2 … Sunday = 64; 127 = daily.",
    )  # fmt: skip
    duration = serializers.IntegerField(
        min_value=1, max_value=7 * 86400, required=False, allow_null=True,
        help_text="mode=duration: seconds.",
    )  # fmt: skip
    count = serializers.IntegerField(
        min_value=1, max_value=10000, required=False, allow_null=True,
        help_text="mode=count: items.",
    )  # fmt: skip

    class Meta:
        model = ScheduleBlock
        fields = [
            "id", "channel", "playlist", "start_time", "weekdays", "mode", "duration", "count",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]


class PlayoutRowSerializer(ModelSerializer):
    class Meta:
        model = PlayoutRow
        fields = [
            "id", "start", "end", "media_item", "asset", "replay", "in_point", "out_point",
            "filler", "block", "playlist", "seq", "title", "description",
        ]  # fmt: skip
        extra_kwargs = {"replay": {"help_text": "Set on a replay's re-air (Replay.reair_at)."}}


class PlayoutQuerySerializer(serializers.Serializer):
    start = BoundedDateTimeField(required=False, help_text="Default: now.")
    hours = serializers.IntegerField(min_value=1, max_value=24 * 14, default=24)


class NowPlayingSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    offset = serializers.FloatField(help_text="Seconds into the media file.")
    remaining = serializers.FloatField()
    row = PlayoutRowSerializer()


KIND_HELP = ", ".join(f"`{k.value}`: {k.label}" for k in ItemKind)


class ChannelPlayingSerializer(serializers.Serializer):
    """Whether a channel is wanted on the air and the state of the job that plays it."""

    channel = serializers.IntegerField()
    wanted = serializers.BooleanField()
    held = serializers.BooleanField(
        help_text="stopped on purpose: viewers do not start an on-demand channel until a start"
    )
    job = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(help_text="the job's state (`stopped` before its first start)")


class ChannelRecordingToggleSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class ChannelRecordingSerializer(ChannelPlayingSerializer):
    """What a channel is doing, with whether it records and when a toggle applies."""

    recording_enabled = serializers.BooleanField()
    recording_job = serializers.IntegerField(
        allow_null=True, help_text="the stream job that records; its recordings name it"
    )
    applies = serializers.ChoiceField(
        choices=["unchanged", "next_start", "restarted"],
        help_text=(
            "restarted: the channel plays, and its recording starts (or ends) at once; "
            "next_start: it records from its next start; unchanged: it already was so."
        ),
    )
