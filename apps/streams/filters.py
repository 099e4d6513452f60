from __future__ import annotations

import django_filters

from apps.streams.models import FFmpegProfile, StreamJob, StreamReport


class FFmpegProfileFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = FFmpegProfile
        fields = ["name", "video_codec", "audio_codec", "rate_control"]


class StreamJobFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = StreamJob
        fields = [
            "name", "state", "desired_state", "input_kind", "profile", "owner", "autostart",
            "recording_enabled",
        ]  # fmt: skip


class StreamReportFilter(django_filters.FilterSet):
    class Meta:
        model = StreamReport
        fields = ["job", "kind", "state", "overall"]
