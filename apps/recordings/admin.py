from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.accounts.models import AuditEntry
from apps.recordings import services
from apps.recordings.models import Recording, TerminalStream
from castcore.admin_site import AuditedModelAdmin


@admin.register(Recording)
class RecordingAdmin(AuditedModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "owner",
        "visibility",
        "status",
        "duration",
        "size",
        "created_at",
        "hidden_at",
    ]
    list_filter = ["kind", "visibility", "status", "owner__is_temporary"]
    search_fields = ["title", "description", "name", "session_id", "owner__username"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "page_link", "kind", "owner", "file", "size", "duration", "created_at", "asciicast_version",
        "cols", "rows", "name", "session_id", "has_audio", "has_video", "output_mode", "resolution",
        "stream_job_id", "hidden_at", "playable_file", "poster", "playable_error",
    ]  # fmt: skip
    fields = [
        "page_link",
        "title",
        "description",
        "visibility",
        "audio_url",
        "status",
        *readonly_fields[1:],
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recordings come from uploads, stream jobs and live streams

    @admin.display(description="Page")
    def page_link(self, obj: Recording) -> str:
        return format_html('<a href="{}">{}</a>', obj.page_path, obj.page_path)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        # The service also removes the file, once the deletion commits.
        services.recording_delete(
            recording=obj, actor=request.user, request=request, source=AuditEntry.Source.ADMIN
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for recording in queryset:
            self.delete_model(request, recording)


@admin.register(TerminalStream)
class TerminalStreamAdmin(AuditedModelAdmin):
    list_display = [
        "__str__",
        "owner",
        "visibility",
        "live_now",
        "record",
        "last_seen_at",
        "created_at",
    ]
    list_filter = ["visibility", "record"]
    search_fields = ["title", "owner__username"]
    readonly_fields = [
        "owner",
        "live_now",
        "live",
        "cols",
        "rows",
        "last_seen_at",
        "recording",
        "created_at",
    ]
    fields = ["title", "description", "visibility", "audio_url", "record", *readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the asciinema API, which returns the producer URL once

    @admin.display(boolean=True, description="Live now")
    def live_now(self, obj: TerminalStream) -> bool:
        return obj.is_live
