from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.system.models import GlobalSettings, WorkerHeartbeat
from castcore.admin_site import AuditedModelAdmin


class GlobalSettingsForm(forms.ModelForm):
    # Never rendered back into the page (a text area would show it); empty keeps it.
    smtp_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="leave empty to keep the current password",
    )

    class Meta:
        model = GlobalSettings
        exclude: list[str] = []

    def clean_smtp_password(self) -> str:
        password: str = self.cleaned_data.get("smtp_password") or ""
        return password or (self.instance.smtp_password if self.instance.pk else "")


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(AuditedModelAdmin):
    form = GlobalSettingsForm
    list_display = ["site_name", "public_url", "upload_auth_required", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not GlobalSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "queues", "embedded", "started_at", "last_seen"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
