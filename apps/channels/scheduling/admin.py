"""Scheduled actions in the admin: shown with their runs; written through /api/v1/scheduler.

The API's service computes the next occurrence and validates the rule and its target;
an admin form saving the row directly would skip both, so the rows are read-only here.
"""

from __future__ import annotations

from django.contrib import admin

from apps.channels.scheduling.models import ScheduledAction, ScheduledRun
from castcore.admin_site import ReadOnlyModelAdmin


class ScheduledRunInline(admin.TabularInline):
    model = ScheduledRun
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "occurrence_at", "state", "late", "error_code", "ran_at", "claimed_by",
    )  # fmt: skip
    ordering = ["-occurrence_at"]

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ScheduledAction)
class ScheduledActionAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "kind", "timezone", "rule", "next_run_at", "enabled"]
    list_filter = ["kind", "enabled", "missed_policy"]
    search_fields = ["name"]
    inlines = [ScheduledRunInline]
