"""Scheduled actions in the admin, written through the API's services: the form checks a
save with `scheduled_action_check` (rule, zone, target, a one-off in the future), and
the save calls `scheduled_action_create`/`_update` (which compute the next occurrence)
or `_delete`. Their runs are history: read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.channels.scheduling import services
from apps.channels.scheduling.models import ScheduledAction, ScheduledRun
from castcore.admin_site import AuditedModelAdmin, add_api_error
from castcore.api.errors import ApiError


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


class ScheduledActionAdminForm(forms.ModelForm):
    class Meta:
        model = ScheduledAction
        fields = list(services.EDITABLE_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned  # a field is missing or malformed: its own error says so
        try:
            services.scheduled_action_check(
                fields=cleaned, action=self.instance if self.instance.pk else None
            )
        except ApiError as exc:
            add_api_error(self, exc)
        return cleaned


@admin.register(ScheduledAction)
class ScheduledActionAdmin(AuditedModelAdmin):
    form = ScheduledActionAdminForm
    list_display = ["name", "kind", "timezone", "rule", "next_run_at", "enabled"]
    list_filter = ["kind", "enabled", "missed_policy"]
    search_fields = ["name"]
    readonly_fields = ["next_run_at", "owner", "created_at", "updated_at"]
    inlines = [ScheduledRunInline]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS}
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            obj.refresh_from_db()
            services.scheduled_action_update(
                actor=request.user, action=obj, request=request, **changed
            )
        else:
            obj.pk = services.scheduled_action_create(
                actor=request.user, request=request, **fields
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.scheduled_action_delete(actor=request.user, action=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for action in queryset:
            self.delete_model(request, action)
