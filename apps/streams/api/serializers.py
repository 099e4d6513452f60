from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.integrations.platforms.services import platform_account_url
from apps.streams.models import (
    FFmpegProfile,
    InputKind,
    StreamJob,
    StreamOutput,
    StreamReport,
    StreamRun,
)
from apps.streams.specs import shown_output_url
from apps.streams.status import job_reported_state, run_reported_state
from castcore.api.fields import (
    MASKED_URL_HELP,
    ChoiceField,
    MaskedUrlField,
    ModelSerializer,
    SecretField,
)


class FFmpegProfileSerializer(ModelSerializer):
    class Meta:
        model = FFmpegProfile
        fields = [
            "id", "name", "description", *FFmpegProfile.SPEC_FIELDS, "video_profile",
            "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at", "updated_at"]


class StreamOutputSerializer(ModelSerializer):
    id = serializers.IntegerField(
        required=False, help_text="Send an existing output's id to keep its stream key unchanged."
    )
    stream_key = SecretField(required=False, allow_blank=True, max_length=1000)

    class Meta:
        model = StreamOutput
        fields = [
            "id", "name", "kind", "url", "stream_key", "platform_account", "container", "enabled",
        ]  # fmt: skip
        extra_kwargs = {
            "url": {"required": False,
                    "help_text": "rtmp/rtmps/srt/udp: the URL; hls: a directory; file: a path. "
                    + MASKED_URL_HELP + " Left out with a platform_account: the account's."},
            "platform_account": {"help_text": "Send with this platform account (/platforms): "
                                 "its ingest URL and key replace url and stream_key."},
        }  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account = attrs.get("platform_account")
        if account is not None and attrs.get("kind") not in ("rtmp", "rtmps", "srt"):
            raise serializers.ValidationError(
                {"platform_account": "only rtmp, rtmps and srt outputs send to a platform"},
                code="stream_job.platform_account_kind",
            )
        if account is not None and not attrs.get("url"):
            # Stored for display and validation; the account's own is used at start.
            attrs["url"] = platform_account_url(account)
        if not attrs.get("url"):
            raise serializers.ValidationError({"url": "required"}, code="required")
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data["url"] = shown_output_url(data["kind"], data["url"] or "")
        return data


class StreamJobSerializer(ModelSerializer):
    outputs = StreamOutputSerializer(many=True)
    # `channel` jobs are made by channels (apps.channels.play), never through this API.
    input_kind = ChoiceField(
        choices=[kind for kind in InputKind.values if kind != InputKind.CHANNEL], required=False
    )
    input_url = MaskedUrlField(required=False, allow_blank=True, max_length=4000)

    class Meta:
        model = StreamJob
        fields = [
            "id", "name", "input_kind", "input_path", "input_url", "input_url_kind",
            "input_pattern", "input_width", "input_height", "input_rate", "input_with_audio",
            "input_media_item", "input_media_source", "input_media_folder", "profile", "loop",
            "realtime", "reconnect_max_attempts", "reconnect_base_seconds",
            "reconnect_cap_seconds", "reconnect_jitter", "stall_timeout_seconds", "autostart",
            "recording_enabled", "disk_quota_mb", "outputs", "desired_state", "state",
            "resume_position_s", "owner", "created_at", "updated_at",
        ]  # fmt: skip
        extra_kwargs = {
            "disk_quota_mb": {"min_value": 1, "help_text": "Disk (MiB) this job's file and HLS "
                              "outputs, run folders and recordings may use; null: no limit "
                              "of its own."}
        }  # fmt: skip
        read_only_fields = [
            "desired_state", "state", "resume_position_s", "owner", "created_at", "updated_at",
        ]  # fmt: skip

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if "state" in data:
            # "lost" when its worker stopped renewing the run's lease, as status reports it.
            data["state"] = job_reported_state(instance)
        return data


class DuplicateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)


class RecordingToggleSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class RecordingToggleResultSerializer(StreamJobSerializer):
    applies = ChoiceField(
        choices=["unchanged", "next_start", "restarted"],
        read_only=True,
        help_text=(
            "restarted: the running ffmpeg restarts now within the same run, so the file "
            "starts (or ends) at once; next_start: the job is not running; unchanged: it "
            "already was so."
        ),
    )
    # A plain string here: a second component with the JobState enum makes drf-spectacular
    # name it State<hash>Enum (a --fail-on-warn warning); StreamJob documents the values.
    state = serializers.CharField(read_only=True, help_text="The job state, as in StreamJob.")

    class Meta(StreamJobSerializer.Meta):
        fields = [*StreamJobSerializer.Meta.fields, "applies"]


class StreamRunSerializer(ModelSerializer):
    log_tail = serializers.JSONField(
        read_only=True, help_text="Last lines as [{level, line, hint_code, hint}], secrets masked."
    )
    last_stats = serializers.JSONField(
        read_only=True,
        help_text="{fps, bitrate_kbps, bitrate_source, speed, frames, drops, out_time_s}: the "
        "figures last published while it ran; kept once it ended. bitrate_source says what "
        "bitrate_kbps counts: muxer (all ffmpeg wrote to its one output), encoder (the video "
        "encoder's output only), written (the files or HLS segments a stream copy wrote), "
        "none (not measurable: null).",
    )
    position_s = serializers.FloatField(
        read_only=True, help_text="How far into its input the run got (seconds), for any input."
    )

    class Meta:
        model = StreamRun
        fields = [
            "id", "number", "state", "fencing_token", "worker", "pid", "pgid", "heartbeat_at",
            "lease_expires_at", "start_offset_s", "recording", "created_at", "started_at",
            "ended_at", "exit_reason", "exit_code", "reconnect_count", "position_s",
            "last_stats", "log_tail",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        # "lost" for the current run whose lease expired, as its job's state and status say.
        data["state"] = run_reported_state(instance)
        return data


class StreamStatusSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    run_id = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField()
    state = serializers.CharField(help_text="The job state: stopped, starting, running, …")
    fps = serializers.FloatField(allow_null=True)
    bitrate_kbps = serializers.FloatField(allow_null=True)
    speed = serializers.FloatField(allow_null=True)
    frames = serializers.IntegerField(allow_null=True)
    drops = serializers.IntegerField(allow_null=True)
    out_time_s = serializers.FloatField(allow_null=True)
    reconnects = serializers.IntegerField()
    health = serializers.IntegerField(min_value=0, max_value=100)
    uptime_s = serializers.FloatField(allow_null=True)


class PreviewRequestSerializer(serializers.Serializer):
    job_id = serializers.IntegerField(required=False, help_text="Preview a saved job …")
    job = StreamJobSerializer(required=False, help_text="… or an unsaved job payload.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("job_id" in attrs) == ("job" in attrs):
            raise serializers.ValidationError(
                {"job_id": [serializers.ErrorDetail("Send job_id or job.", code="one_required")]}
            )
        return attrs


class PreviewWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    params = serializers.DictField()
    message = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    argv = serializers.ListField(child=serializers.CharField(), help_text="Secrets masked.")
    command = serializers.CharField(help_text="argv as one shell-quoted line, secrets masked.")
    warnings = PreviewWarningSerializer(many=True)


class StreamReportSerializer(ModelSerializer):
    checks = serializers.JSONField(
        read_only=True, help_text="[{name, status: green|yellow|red, code, params, message}]"
    )
    result = serializers.JSONField(read_only=True, help_text="Dry-run figures.")
    events_url = serializers.SerializerMethodField()

    class Meta:
        model = StreamReport
        fields = [
            "id", "job", "kind", "state", "overall", "checks", "result", "created_at",
            "finished_at", "events_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_events_url(self, report: StreamReport) -> str:
        return f"/api/v1/sse/preflight/{report.pk}"
