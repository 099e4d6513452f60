from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from apps.recordings.models import Recording
from castcore.api.filters import StrictBooleanFilter


class RecordingFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Recording.Kind.choices)
    visibility = django_filters.ChoiceFilter(
        choices=Recording._meta.get_field("visibility").choices
    )
    owner = django_filters.NumberFilter(field_name="owner_id")
    status = django_filters.ChoiceFilter(choices=Recording.Status.choices)
    stream_job = django_filters.NumberFilter(field_name="stream_job_id")
    hidden = StrictBooleanFilter(field_name="hidden_at", lookup_expr="isnull", exclude=True)
    q = django_filters.CharFilter(method="search", label="Search in title and description")

    class Meta:
        model = Recording
        fields = ["kind", "visibility", "owner", "status", "stream_job", "hidden", "q"]

    def search(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
