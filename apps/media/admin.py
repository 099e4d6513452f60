from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import AuditEntry
from apps.media.models import Asset, MediaItem, MediaScan, SourceKind, StorageSource
from apps.media.services import media_scan_start
from apps.media.storage.base import StorageError
from apps.media.storage.local import list_dir
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError


class StorageSourceForm(forms.ModelForm):
    # Secrets are never rendered back into the page; leaving them empty keeps them.
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    secret_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = StorageSource
        exclude: list[str] = []  # every editable field; secrets use the widgets above

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("password", "secret_key"):
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        path = cleaned.get("path")
        moved = "path" in self.changed_data or not self.instance.pk
        if cleaned.get("kind") == SourceKind.LOCAL and path and moved:
            try:  # the API's rule: a local source is saved only for a folder it can list
                list_dir(Path(path))
            except StorageError as exc:
                self.add_error("path", f"{exc.detail} ({exc.code})")
        return cleaned


@admin.register(StorageSource)
class StorageSourceAdmin(AuditedModelAdmin):
    form = StorageSourceForm
    list_display = ["name", "kind", "enabled", "last_scanned_at", "mount_wanted"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "host", "bucket", "path"]
    readonly_fields = ["last_scan_summary", "last_scanned_at", "mount_wanted"]
    actions = ["scan_now"]

    @admin.action(description="Scan now")
    def scan_now(self, request: HttpRequest, queryset: QuerySet[StorageSource]) -> None:
        for source in queryset:
            try:
                scan = media_scan_start(
                    source=source,
                    requested_by=request.user,
                    request=request,
                    audit_source=AuditEntry.Source.ADMIN,
                )
            except ApiError as exc:
                self.message_user(request, f"{source}: {exc.code}", messages.WARNING)
            else:
                self.message_user(request, f"{source}: scan #{scan.pk} queued", messages.SUCCESS)


@admin.register(MediaScan)
class MediaScanAdmin(AuditedModelAdmin):
    list_display = ["id", "source", "state", "progress", "total", "probed", "failed", "created_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in MediaScan._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # scans are started with "Scan now" on a source


@admin.register(MediaItem)
class MediaItemAdmin(AuditedModelAdmin):
    list_display = ["relpath", "source", "video_codec", "width", "height", "duration", "missing"]
    list_filter = ["source", "missing", "video_codec"]
    search_fields = ["relpath"]
    readonly_fields = [f.name for f in MediaItem._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # items come from scans


@admin.register(Asset)
class AssetAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "mime", "width", "height", "size", "created_at"]
    list_filter = ["kind"]
    readonly_fields = [f.name for f in Asset._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # uploads go through POST /assets, which validates the content
