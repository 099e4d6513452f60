"""The channels admin: writes go through the services (checks, audit, playout rebuild);
playlist items and restream outputs are read-only here (the API checks cycles and keys),
playout rows are read-only (compiled, never hand-edited)."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.channels.models import (
    Channel,
    ChannelOutput,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.services import channels as channel_services
from apps.channels.services import playlists as playlist_services
from apps.channels.services.playout import playout_rebuild
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError


def _form_error(exc: ApiError) -> forms.ValidationError:
    return forms.ValidationError(f"{exc.code}: {exc.params}", code=exc.code)


class PlaylistItemInline(admin.TabularInline):
    """Read-only: items are added through the API, which refuses cycles and bad points."""

    model = PlaylistItem
    fk_name = "playlist"
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "position",
        "kind",
        "media_item",
        "source",
        "folder",
        "child",
        "in_point",
        "out_point",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Playlist)
class PlaylistAdmin(AuditedModelAdmin):
    list_display = ["name", "order", "updated_at"]
    list_filter = ["order"]
    search_fields = ["name"]
    exclude = ["created_by"]
    inlines = [PlaylistItemInline]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data}
            obj.refresh_from_db()
            playlist_services.playlist_update(
                actor=request.user, playlist=obj, request=request, **fields
            )
        else:
            obj.pk = playlist_services.playlist_create(
                actor=request.user, request=request, **dict(form.cleaned_data)
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            playlist_services.playlist_delete(actor=request.user, playlist=obj, request=request)
        except ApiError as exc:
            messages.error(request, f"{exc.code}: {exc.params}")


class ChannelAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        try:
            channel_services.channel_check(
                fields=cleaned, channel=self.instance if self.instance.pk else None
            )
        except ApiError as exc:
            raise _form_error(exc) from None
        return cleaned


class ChannelOutputInline(admin.TabularInline):
    """Read-only: outputs (with their secret keys) are edited through the API."""

    model = ChannelOutput
    extra = 0
    can_delete = False
    fields = readonly_fields = ("name", "kind", "enabled")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    form = ChannelAdminForm
    list_display = ["number", "name", "slug", "group", "time_zone", "visibility", "mode", "enabled"]
    list_filter = ["visibility", "mode", "enabled", "group"]
    search_fields = ["name", "slug"]
    readonly_fields = ["guide_id", "playout_compiled_at"]
    inlines = [ChannelOutputInline]
    actions = ["rebuild_playout"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data}
            obj.refresh_from_db()
            channel_services.channel_update(
                actor=request.user, channel=obj, request=request, **fields
            )
        else:
            obj.pk = channel_services.channel_create(
                actor=request.user, request=request, **dict(form.cleaned_data)
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        channel_services.channel_delete(actor=request.user, channel=obj, request=request)

    @admin.action(description="Rebuild the playout from now")
    def rebuild_playout(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        rows = sum(playout_rebuild(channel=channel) for channel in queryset)
        messages.success(request, f"{rows} playout rows compiled.")


class ScheduleBlockAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        block = copy.copy(self.instance) if self.instance.pk else None
        try:
            channel_services.schedule_block_check(fields=cleaned, block=block)
        except ApiError as exc:
            raise _form_error(exc) from None
        return cleaned


@admin.register(ScheduleBlock)
class ScheduleBlockAdmin(AuditedModelAdmin):
    form = ScheduleBlockAdminForm
    list_display = ["channel", "start_time", "playlist", "mode", "weekdays", "duration", "count"]
    list_filter = ["channel", "mode"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data}
            obj.refresh_from_db()
            channel_services.schedule_block_update(
                actor=request.user, block=obj, request=request, **fields
            )
        else:
            obj.pk = channel_services.schedule_block_create(
                actor=request.user, request=request, **dict(form.cleaned_data)
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        channel_services.schedule_block_delete(actor=request.user, block=obj, request=request)


@admin.register(PlayoutRow)
class PlayoutRowAdmin(admin.ModelAdmin):
    """Compiled rows: read-only (rebuild the channel to change them)."""

    list_display = ["channel", "start", "end", "title", "filler", "in_point", "out_point"]
    list_filter = ["channel", "filler"]
    date_hierarchy = "start"
    list_select_related = ["channel"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The scheduler, replays and players keep their admin in their own module groups.
from apps.channels.play import admin as play_admin  # noqa: E402, F401
from apps.channels.replays import admin as replays_admin  # noqa: E402, F401
from apps.channels.scheduling import admin as scheduling_admin  # noqa: E402, F401
