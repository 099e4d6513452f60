from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.channels.scheduling import conf
from apps.channels.scheduling.models import ScheduledAction, ScheduledRun
from apps.channels.scheduling.recurrence import RecurrenceError, zone
from castcore.api.fields import BoundedDateTimeField, ModelSerializer


def local(moment: datetime, timezone_name: str) -> str:
    """An instant as ISO 8601 with the action's zone offset (what its wall clock shows)."""
    try:
        return moment.astimezone(zone(timezone_name)).isoformat()
    except RecurrenceError:
        return moment.isoformat()


class ScheduledActionSerializer(ModelSerializer):
    starts_at = BoundedDateTimeField(
        help_text="The first occurrence (a one-off's only one). Its wall time in `timezone` "
        "is what `rule` repeats, across DST changes."
    )
    next_occurrences = serializers.SerializerMethodField(
        help_text=f"The next {conf.UPCOMING_DEFAULT} occurrences, with the zone's offset "
        "(`GET /scheduler/{id}/occurrences?count=` lists more)."
    )

    class Meta:
        model = ScheduledAction
        fields = [
            "id", "name", "kind", "stream_job", "channel", "replay", "starts_at", "timezone",
            "rule", "missed_policy", "enabled", "next_run_at", "next_occurrences", "owner",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["next_run_at", "owner", "created_at", "updated_at"]
        extra_kwargs = {
            "kind": {"help_text": "What to do; the target field it needs: stream_job for "
                     "stream_job.*, channel for channel.*, replay for replay.publish."},
            "timezone": {"help_text": "IANA zone name, e.g. Europe/Paris."},
            "rule": {"help_text": "An RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO,WE`), without "
                     "DTSTART; MINUTELY or slower. Empty: one-off."},
            "missed_policy": {"help_text": "For occurrences missed while CastCore was down: "
                              "skip them, or run the latest one once."},
            "next_run_at": {"help_text": "The next occurrence not yet handled (UTC); null when "
                            "the rule has no more or the action is disabled."},
        }  # fmt: skip

    @extend_schema_field(
        serializers.ListField(child=serializers.CharField(help_text="ISO 8601 date-time"))
    )
    def get_next_occurrences(self, action: ScheduledAction) -> list[str]:
        if not action.enabled:
            return []
        try:
            moments = action.recurrence.upcoming(timezone.now(), conf.UPCOMING_DEFAULT)
        except RecurrenceError:
            return []
        return [local(moment, action.timezone) for moment in moments]


class OccurrencesSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    occurrences = serializers.ListField(child=serializers.CharField(help_text="ISO 8601"))


class ScheduledRunSerializer(ModelSerializer):
    class Meta:
        model = ScheduledRun
        fields = [
            "id", "occurrence_at", "state", "late", "error_code", "error_params", "ran_at",
            "claimed_by",
        ]  # fmt: skip
        read_only_fields = fields
