from __future__ import annotations

import django_filters

from apps.channels.models import Channel, Playlist, ScheduleBlock


class PlaylistFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Playlist
        fields = ["name", "order"]


class ChannelFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Channel
        fields = ["name", "group", "visibility", "mode", "enabled", "number", "slug"]


class ScheduleBlockFilter(django_filters.FilterSet):
    class Meta:
        model = ScheduleBlock
        fields = ["channel", "playlist", "mode"]
