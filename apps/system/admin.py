from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.system.models import GlobalSettings, WorkerHeartbeat
from castcore.admin_site import AuditedModelAdmin


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(AuditedModelAdmin):
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
