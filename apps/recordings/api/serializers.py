from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.recordings.api.compat import absolute_url, ws_url
from apps.recordings.models import Recording, TerminalStream, Visibility


def _request(serializer: serializers.Serializer[Any]) -> Any:
    return serializer.context["request"]


class RecordingSerializer(serializers.ModelSerializer[Recording]):
    """A recording in the native API: every kind, snake_case like the rest of /api/v1.

    The video attributes are OpenVidu's, under native names: camelCase (`createdAt`,
    `hasAudio`…) belongs to the OpenVidu-compatible surface only.
    """

    url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    playable_url = serializers.SerializerMethodField(
        help_text="Videos: the copy browsers play (fragmented MP4); null until it is made."
    )
    poster_url = serializers.SerializerMethodField(help_text="Videos: a still frame (JPEG).")
    audio_url = serializers.SerializerMethodField()
    description_html = serializers.CharField(read_only=True)

    class Meta:
        model = Recording
        fields = [
            "id", "kind", "url", "file_url", "download_url", "playable_url", "poster_url",
            "audio_url", "title", "description", "description_html", "visibility", "owner",
            "duration", "size", "created_at", "status", "hidden_at", "asciicast_version", "cols",
            "rows", "name", "session_id", "has_audio", "has_video", "output_mode", "resolution",
            "reason", "stream_job_id", "playable_error",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, obj: Recording) -> str | None:
        return absolute_url(_request(self), obj.page_path)

    def get_file_url(self, obj: Recording) -> str | None:
        return absolute_url(_request(self), obj.file_path)

    def get_download_url(self, obj: Recording) -> str | None:
        return (
            absolute_url(_request(self), f"/api/v1/recordings/{obj.url_key}/file")
            if obj.file
            else None
        )

    def get_playable_url(self, obj: Recording) -> str | None:
        return absolute_url(_request(self), obj.playable_path)

    def get_poster_url(self, obj: Recording) -> str | None:
        return absolute_url(_request(self), obj.poster_path)

    def get_audio_url(self, obj: Recording) -> str | None:
        return obj.audio_url or None


class AsciinemaRecordingSerializer(serializers.Serializer[Recording]):
    """A recording as asciinema's API gives it (no envelope, nulls for blanks)."""

    id = serializers.IntegerField()
    url = serializers.CharField()
    file_url = serializers.CharField(allow_null=True)
    audio_url = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices)

    def to_representation(self, obj: Recording) -> dict[str, Any]:
        request = _request(self)
        return {
            "id": obj.pk,
            "url": absolute_url(request, obj.page_path),
            "file_url": absolute_url(request, obj.file_path),
            "audio_url": obj.audio_url or None,
            "title": obj.title or None,
            "description": obj.description or None,
            "visibility": obj.visibility,
        }


class LegacyUploadResultSerializer(AsciinemaRecordingSerializer):
    """What asciinema 2.x reads: it prints `message` when set, else `url`."""

    message = serializers.CharField()


class RecordingUpdateSerializer(serializers.Serializer[Any]):
    """Editable attributes, for PATCH (asciinema and native alike)."""

    title = serializers.CharField(max_length=200, allow_blank=True, allow_null=True, required=False)
    description = serializers.CharField(
        allow_blank=True, allow_null=True, required=False, max_length=10_000
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    audio_url = serializers.URLField(
        max_length=500, allow_blank=True, allow_null=True, required=False
    )


class RecordingUploadSerializer(serializers.Serializer[Any]):
    """multipart/form-data: `file` (asciinema 3.x) or `asciicast` (2.x)."""

    file = serializers.FileField(required=False)
    asciicast = serializers.FileField(required=False)
    title = serializers.CharField(max_length=200, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class StreamSerializer(serializers.Serializer[TerminalStream]):
    """A live terminal stream as asciinema's API gives it."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()
    ws_producer_url = serializers.SerializerMethodField()
    audio_url = serializers.URLField(
        max_length=500, allow_blank=True, allow_null=True, required=False
    )
    live = serializers.BooleanField(
        source="is_live", read_only=True, help_text="A producer is connected and was seen lately."
    )
    title = serializers.CharField(max_length=200, allow_blank=True, allow_null=True, required=False)
    description = serializers.CharField(
        allow_blank=True, allow_null=True, required=False, max_length=10_000
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    record = serializers.BooleanField(required=False, help_text="CastCore: record broadcasts.")
    recording_id = serializers.IntegerField(read_only=True, allow_null=True)

    def get_url(self, obj: TerminalStream) -> str:
        return absolute_url(_request(self), obj.page_path) or ""

    def get_ws_producer_url(self, obj: TerminalStream) -> str:
        return ws_url(_request(self), f"/ws/S/{obj.producer_token}")

    def to_representation(self, obj: TerminalStream) -> dict[str, Any]:
        data = super().to_representation(obj)
        for name in ("audio_url", "title", "description"):
            data[name] = data[name] or None
        return data
