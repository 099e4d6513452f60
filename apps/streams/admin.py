"""The streams admin: every write goes through the services (engine validation, the
target policy, audit, "running → 409"); outputs are read-only here, URLs masked."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.streams import services
from apps.streams.models import (
    ACTIVE_JOB_STATES,
    FFmpegProfile,
    JobState,
    RunState,
    StreamJob,
    StreamOutput,
    StreamReport,
    StreamRun,
)
from apps.streams.selectors import (
    jobs_in_reported_state,
    runs_in_reported_state,
    with_reported_state,
)
from apps.streams.services.jobs import JOB_FIELDS, OUTPUT_FIELDS
from apps.streams.specs import shown_output_url
from apps.streams.status import run_reported_state
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError


def _form_error(exc: ApiError) -> forms.ValidationError:
    return forms.ValidationError(f"{exc.code}: {exc.params}", code=exc.code)


class FFmpegProfileAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        profile = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(profile, name, value)
        try:
            services.ffmpeg_profile_validate(profile=profile)
        except ApiError as exc:
            raise _form_error(exc) from None
        return cleaned


@admin.register(FFmpegProfile)
class FFmpegProfileAdmin(AuditedModelAdmin):
    form = FFmpegProfileAdminForm
    list_display = ["name", "video_codec", "rate_control", "video_bitrate_kbps", "width", "height"]
    list_filter = ["video_codec", "audio_codec"]
    search_fields = ["name"]
    exclude = ["created_by"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            obj.refresh_from_db()
            services.ffmpeg_profile_update(
                actor=request.user, profile=obj, request=request, **fields
            )
        else:
            fields = {name: form.cleaned_data[name] for name in form.cleaned_data}
            obj.pk = services.ffmpeg_profile_create(
                actor=request.user, request=request, **fields
            ).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.ffmpeg_profile_delete(actor=request.user, profile=obj, request=request)


class StreamOutputInline(admin.TabularInline):
    """Read-only: outputs are edited through the API, which validates and audits them."""

    model = StreamOutput
    extra = 0
    can_delete = False
    fields = ["position", "name", "kind", "shown_url", "container", "enabled"]  # no keys
    readonly_fields = ["position", "name", "kind", "shown_url", "container", "enabled"]

    @admin.display(description="URL")
    def shown_url(self, output: StreamOutput) -> str:
        return shown_output_url(output.kind, output.url)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _control(verb: str) -> Any:
    service = getattr(services, f"stream_job_{verb}")

    def action(
        modeladmin: StreamJobAdmin, request: HttpRequest, queryset: QuerySet[StreamJob]
    ) -> None:
        done = 0
        for job in queryset:
            try:
                service(actor=request.user, job=job, request=request)
                done += 1
            except ApiError as exc:
                modeladmin.message_user(request, f"{job}: {exc.code} {exc.params}", messages.ERROR)
        modeladmin.message_user(request, f"{verb.title()}: {done} job(s).")

    action.__name__ = f"{verb}_jobs"
    return admin.action(description=f"{verb.title()} selected jobs")(action)


class ReportedJobStateFilter(admin.SimpleListFilter):
    """By the state the API reports: `lost` for a live job whose run's lease expired."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return JobState.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return jobs_in_reported_state(queryset, value) if value else queryset


class ReportedRunStateFilter(ReportedJobStateFilter):
    """By the state the runs list reports: `lost` for a job's current run whose lease expired."""

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return RunState.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return runs_in_reported_state(queryset, value) if value else queryset


@admin.register(StreamJob)
class StreamJobAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "shown_state",
        "desired_state",
        "input_kind",
        "profile",
        "recording_enabled",
        "state_changed_at",
    ]
    list_filter = [ReportedJobStateFilter, "input_kind", "autostart", "recording_enabled"]
    search_fields = ["name"]
    readonly_fields = [
        "state",
        "desired_state",
        "fencing_token",
        "last_run_number",
        "resume_position_s",
        "state_changed_at",
    ]
    exclude = ["input_url", "owner", "created_by"]  # a URL may carry credentials: the API
    raw_id_fields = ["input_media_item"]  # a library can hold many thousands of items
    inlines = [StreamOutputInline]
    actions = [_control("start"), _control("stop"), _control("restart")]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_reported_state(super().get_queryset(request))

    @admin.display(description="state", ordering="state")
    def shown_state(self, job: Any) -> str:
        """As the API reports it (`lost` once its run's lease expired), not the stored one."""
        return str(job.reported_state)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)

        class ValidatedForm(form):  # type: ignore[misc, valid-type]
            """Checks the edited job with its outputs as stream_job_update will."""

            def clean(self) -> dict[str, Any]:
                cleaned: dict[str, Any] = super().clean()
                job = copy.copy(self.instance)
                for name in JOB_FIELDS:
                    if name in cleaned:
                        setattr(job, name, cleaned[name])
                outputs = [
                    {"id": o.pk, **{f: getattr(o, f) for f in OUTPUT_FIELDS}}
                    for o in self.instance.outputs.all()
                ]
                try:
                    services.stream_job_validate(job=job, outputs=outputs)
                except ApiError as exc:
                    raise _form_error(exc) from None
                return cleaned

        return ValidatedForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a job needs outputs: create it through the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.state in ACTIVE_JOB_STATES:
            return False  # stop it first (the service answers 409 stream_job.running)
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in JOB_FIELDS}
        services.stream_job_update(
            actor=request.user, job=obj, request=request, **fields
        )  # validates, audits; `obj` is re-read under a row lock there

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Outputs are read-only here: save none of what a crafted POST may carry.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.stream_job_delete(actor=request.user, job=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for job in queryset:
            try:
                services.stream_job_delete(actor=request.user, job=job, request=request)
            except ApiError as exc:
                self.message_user(request, f"{job}: {exc.code} {exc.params}", messages.ERROR)


@admin.register(StreamRun)
class StreamRunAdmin(admin.ModelAdmin):
    list_display = [
        "job",
        "number",
        "shown_state",
        "worker",
        "pid",
        "heartbeat_at",
        "exit_reason",
        "reconnect_count",
    ]
    list_filter = [ReportedRunStateFilter, "exit_reason"]
    list_select_related = ["job"]  # each row's reported state reads its job

    @admin.display(description="state", ordering="state")
    def shown_state(self, run: StreamRun) -> str:
        return run_reported_state(run)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are made by start/restart, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StreamReport)
class StreamReportAdmin(admin.ModelAdmin):
    list_display = ["job", "kind", "state", "overall", "created_at", "finished_at"]
    list_filter = ["kind", "state", "overall"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# Live streams register their own admin (a module group of this app).
from apps.streams.live import admin as live_admin  # noqa: E402, F401
