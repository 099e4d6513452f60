from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from apps.channels.models import Channel, Playlist, ScheduleBlock
from castcore.api.filters import IdFilter


class PlaylistFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Playlist
        fields = ["name", "order"]


class ChannelFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    job = IdFilter(
        method="filter_job",
        label="The channel a stream job plays or records (a recording's stream_job_id): "
        "its `job` or its `recording_job`",
    )

    class Meta:
        model = Channel
        fields = ["name", "group", "visibility", "mode", "enabled", "number", "slug", "job"]

    def filter_job(self, queryset: QuerySet[Channel], name: str, value: int) -> QuerySet[Channel]:
        return queryset.filter(Q(player__job_id=value) | Q(player__relay_job_id=value))


class ScheduleBlockFilter(django_filters.FilterSet):
    class Meta:
        model = ScheduleBlock
        fields = ["channel", "playlist", "mode"]
