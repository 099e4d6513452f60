from __future__ import annotations

import django_filters

from apps.channels.scheduling.models import ScheduledAction


class ScheduledActionFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ScheduledAction
        fields = ["name", "kind", "enabled", "stream_job", "channel", "replay", "missed_policy"]
