from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.streams.live.models import LiveStream
from apps.streams.live.selectors import LiveState, in_state


class LiveStreamFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    state = django_filters.ChoiceFilter(
        choices=[(value, value) for value in LiveState.CHOICES], method="filter_state"
    )

    class Meta:
        model = LiveStream
        fields = ["name", "slug", "visibility", "latency_level", "nsfw", "owner", "srt_enabled"]

    def filter_state(
        self, queryset: QuerySet[LiveStream], name: str, value: str
    ) -> QuerySet[LiveStream]:
        return in_state(queryset, value)
