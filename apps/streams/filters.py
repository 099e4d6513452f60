from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.streams.models import FFmpegProfile, JobState, StreamJob, StreamReport
from apps.streams.selectors import jobs_in_reported_state


class FFmpegProfileFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = FFmpegProfile
        fields = ["name", "video_codec", "audio_codec", "rate_control"]


class StreamJobFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    state = django_filters.ChoiceFilter(choices=JobState.choices, method="filter_state")

    class Meta:
        model = StreamJob
        fields = [
            "name", "state", "desired_state", "input_kind", "profile", "owner", "autostart",
            "recording_enabled",
        ]  # fmt: skip

    def filter_state(
        self, queryset: QuerySet[StreamJob], name: str, value: str
    ) -> QuerySet[StreamJob]:
        """The state as reported (selectors.jobs_in_reported_state): `lost` included."""
        return jobs_in_reported_state(queryset, value)


class StreamReportFilter(django_filters.FilterSet):
    class Meta:
        model = StreamReport
        fields = ["job", "kind", "state", "overall"]
