"""Replays in the admin, written through the API's services: the form checks a save with
`replay_check` (a finished video, a re-air that can air), the save calls `replay_create`
/ `replay_update` / `replay_delete` (which also open the recording's page to the replay's
viewers and rebuild a re-air's channel), and "Publish now" calls `replay_publish`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.channels.replays import services
from apps.channels.replays.models import Replay
from castcore.admin_site import AuditedModelAdmin, add_api_error
from castcore.api.errors import ApiError


class ReplayAdminForm(forms.ModelForm):
    publish = forms.BooleanField(
        required=False, initial=True, help_text="Unticked: a draft (publish it later)."
    )

    class Meta:
        model = Replay
        fields = ["recording", "title", "description", "visibility", "reair_channel", "reair_at"]
        help_texts = {
            "title": "Empty: the recording's.",
            "reair_at": "Both this and the channel, or neither.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        if self.instance.pk and not cleaned.get("title"):
            self.add_error("title", forms.ValidationError("validation.blank", code="blank"))
            return cleaned
        fields = {name: cleaned.get(name) for name in services.REAIR_FIELDS}
        if not self.instance.pk:
            fields["recording"] = cleaned["recording"]
        try:
            services.replay_check(fields=fields, replay=self.instance if self.instance.pk else None)
        except ApiError as exc:
            add_api_error(self, exc)
        return cleaned


@admin.register(Replay)
class ReplayAdmin(AuditedModelAdmin):
    form = ReplayAdminForm
    list_display = ["title", "recording", "visibility", "published_at", "reair_at", "owner"]
    list_filter = ["visibility"]
    search_fields = ["title", "description"]
    readonly_fields = ["published_at", "owner", "created_at", "updated_at"]
    list_select_related = ["recording", "owner"]
    raw_id_fields = ["recording"]
    actions = ["publish_now"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The recording is fixed once it is a replay, as in the API.
        return [*self.readonly_fields, "recording"] if obj is not None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return [name for name in fields if name != "publish"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            changed = {
                name: data[name] for name in form.changed_data if name in services.EDITABLE_FIELDS
            }
            obj.refresh_from_db()
            services.replay_update(actor=request.user, replay=obj, request=request, **changed)
        else:
            fields = {name: data[name] for name in services.EDITABLE_FIELDS}
            obj.pk = services.replay_create(
                actor=request.user,
                request=request,
                recording=data["recording"],
                publish=data["publish"],
                **fields,
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.replay_delete(actor=request.user, replay=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for replay in queryset.select_related("reair_channel"):
            self.delete_model(request, replay)

    @admin.action(description="Publish now")
    def publish_now(self, request: HttpRequest, queryset: QuerySet[Replay]) -> None:
        published = sum(
            services.replay_publish(actor=request.user, replay=replay, request=request)
            for replay in queryset.select_related("recording")
        )
        messages.success(request, f"{published} replays published.")
