"""Live streams in the admin, with their live state. Writes go through the services; the
ingest key is never shown (rotate it: the new key is shown once, in the message)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.streams.live import services
from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.live.selectors import live_stream_state, with_open_session
from apps.streams.live.validation import check_variants
from apps.streams.models import FFmpegProfile
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError
from castcore.secrets import mask

EDITABLE = [
    "name", "slug", "title", "summary", "tags", "logo", "page_content", "nsfw",
    "social_links", "visibility", "latency_level", "variants", "srt_enabled",
]  # fmt: skip


class LiveStreamAdminForm(forms.ModelForm):
    profile = forms.ModelChoiceField(
        queryset=FFmpegProfile.objects.all(), help_text="Encoding of the restream outputs."
    )
    recording_enabled = forms.BooleanField(required=False)

    class Meta:
        model = LiveStream
        fields = EDITABLE

    def clean_variants(self) -> Any:
        try:
            return check_variants(self.cleaned_data.get("variants") or [])
        except ApiError as exc:
            raise forms.ValidationError(f"{exc.code}: {exc.params}", code=exc.code) from None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["profile"].initial = self.instance.job.profile_id
            self.fields["recording_enabled"].initial = self.instance.job.recording_enabled


class LiveSessionInline(admin.TabularInline):
    model = LiveSession
    extra = 0
    can_delete = False
    readonly_fields = (
        "started_at", "disconnected_at", "ended_at", "protocol", "reconnects", "video_codec",
        "width", "height", "fps", "video_bitrate_kbps", "peak_viewers", "recording",
    )  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LiveStream)
class LiveStreamAdmin(AuditedModelAdmin):
    form = LiveStreamAdminForm
    list_display = ["name", "slug", "visibility", "live_state", "owner", "key", "created_at"]
    list_filter = ["visibility", "latency_level", "nsfw", "srt_enabled"]
    search_fields = ["name", "slug", "title"]
    readonly_fields = ["live_state", "key", "srt_port", "job", "owner", "ingest_key_rotated_at"]
    inlines = [LiveSessionInline]
    actions = ["rotate_key", "stop_publish"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveStream]:
        return with_open_session(super().get_queryset(request).select_related("owner", "job"))

    @admin.display(description="state")
    def live_state(self, obj: LiveStream) -> str:
        state = live_stream_state(obj)
        return f"{state.state} (reconnecting)" if state.reconnecting else state.state

    @admin.display(description="ingest key")
    def key(self, obj: LiveStream) -> str:
        return mask(obj.ingest_key) or "revoked"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        job_fields = {"profile": data["profile"], "recording_enabled": data["recording_enabled"]}
        try:
            if change:
                fields = {name: data[name] for name in form.changed_data if name in EDITABLE}
                services.live_stream_update(
                    actor=request.user, stream=obj, request=request, **fields, **job_fields
                )
            else:
                fields = {name: data[name] for name in EDITABLE if name in data}
                stream, key = services.live_stream_create(
                    actor=request.user, request=request, **fields, **job_fields
                )
                obj.pk = stream.pk
                self.message_user(request, f"Ingest key (shown once): {key}", messages.WARNING)
        except ApiError as exc:
            self.message_user(request, f"{exc.code}: {exc.params}", messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.live_stream_delete(actor=request.user, stream=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for stream in queryset:
            self.delete_model(request, stream)

    @admin.action(description="Rotate the ingest key (the new key is shown once)")
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[LiveStream]) -> None:
        for stream in queryset:
            key = services.live_stream_rotate_key(
                actor=request.user, stream=stream, request=request
            )
            self.message_user(request, f"{stream.name}: new ingest key {key}", messages.WARNING)

    @admin.action(description="End the current publish")
    def stop_publish(self, request: HttpRequest, queryset: QuerySet[LiveStream]) -> None:
        for stream in queryset:
            services.live_stream_stop(actor=request.user, stream=stream, request=request)
