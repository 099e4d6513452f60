from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.streams.models import FFmpegProfile, JobState, StreamJob, StreamReport
from apps.streams.selectors import with_current_lease
from apps.streams.status import LIVE_STATES


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
        """The state as reported: `lost` jobs are those whose run's lease expired, and
        `running` (or any live state) leaves them out, as the rows show them."""
        # (isnull=False: an exclude of "lease < now" alone would drop null leases too.)
        lost = Q(
            state__in=LIVE_STATES,
            current_lease_expires_at__isnull=False,
            current_lease_expires_at__lt=timezone.now(),
        )
        jobs = with_current_lease(queryset)
        if value == JobState.LOST:
            return jobs.filter(lost)
        return jobs.filter(state=value).exclude(lost)


class StreamReportFilter(django_filters.FilterSet):
    class Meta:
        model = StreamReport
        fields = ["job", "kind", "state", "overall"]
