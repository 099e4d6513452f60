from __future__ import annotations

import django_filters

from apps.accounts.models import AuditEntry, User
from castcore.api.filters import IdFilter


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["username", "role", "is_active", "is_temporary"]


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_repr")
    actor_id = IdFilter()
    action = django_filters.CharFilter()
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = [
            "actor",
            "actor_id",
            "action",
            "action_prefix",
            "target_type",
            "target_id",
            "source",
        ]
