from __future__ import annotations

import django_filters

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
        field_name="player__job_id",
        label="The channel a stream job plays (a recording's stream_job_id)",
    )

    class Meta:
        model = Channel
        fields = ["name", "group", "visibility", "mode", "enabled", "number", "slug", "job"]


class ScheduleBlockFilter(django_filters.FilterSet):
    class Meta:
        model = ScheduleBlock
        fields = ["channel", "playlist", "mode"]
