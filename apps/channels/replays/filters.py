from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.channels.replays.models import Replay
from castcore.api.filters import StrictBooleanFilter


class ReplayFilter(django_filters.FilterSet):
    title = django_filters.CharFilter(lookup_expr="icontains")
    published = StrictBooleanFilter(method="filter_published")

    class Meta:
        model = Replay
        fields = ["title", "visibility", "recording", "published"]

    def filter_published(
        self, queryset: QuerySet[Replay], name: str, value: bool
    ) -> QuerySet[Replay]:
        published = Replay.objects.published().values("pk")
        return queryset.filter(pk__in=published) if value else queryset.exclude(pk__in=published)
