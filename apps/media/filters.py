from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from apps.media.models import Asset, MediaItem, MediaScan
from castcore.api.filters import IdFilter, StrictBooleanFilter


class MediaItemFilter(django_filters.FilterSet):
    source = IdFilter(field_name="source_id")
    codec = django_filters.CharFilter(method="filter_codec", help_text="video or audio codec")
    video_codec = django_filters.CharFilter(lookup_expr="iexact")
    audio_codec = django_filters.CharFilter(lookup_expr="iexact")
    container = django_filters.CharFilter(lookup_expr="icontains")
    duration_min = django_filters.NumberFilter(field_name="duration", lookup_expr="gte")
    duration_max = django_filters.NumberFilter(field_name="duration", lookup_expr="lte")
    min_width = django_filters.NumberFilter(field_name="width", lookup_expr="gte")
    min_height = django_filters.NumberFilter(field_name="height", lookup_expr="gte")
    width = django_filters.NumberFilter()
    height = django_filters.NumberFilter()
    missing = StrictBooleanFilter()
    probe_failed = StrictBooleanFilter(method="filter_probe_failed")
    q = django_filters.CharFilter(method="filter_q", help_text="text in the file path")

    class Meta:
        model = MediaItem
        fields = ["source", "missing"]

    def filter_codec(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(Q(video_codec__iexact=value) | Q(audio_codec__iexact=value))

    def filter_probe_failed(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        return (
            queryset.exclude(probe_error_code="") if value else queryset.filter(probe_error_code="")
        )

    def filter_q(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(relpath__icontains=value.strip()) if value.strip() else queryset


class MediaScanFilter(django_filters.FilterSet):
    source = IdFilter(field_name="source_id")

    class Meta:
        model = MediaScan
        fields = ["source", "state"]


class AssetFilter(django_filters.FilterSet):
    class Meta:
        model = Asset
        fields = ["kind", "mime"]
