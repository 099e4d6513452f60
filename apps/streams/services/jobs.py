"""Stream job CRUD: a job and its outputs are validated as one engine spec and saved together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.streams.events import StreamControlEvent, control_group
from apps.streams.models import ACTIVE_JOB_STATES, JobState, StreamJob, StreamOutput
from apps.streams.specs import (
    as_api_error,
    checked_recording,
    input_spec_for,
    job_spec_for,
    output_spec_for,
    shown_output_url,
    target_policy,
)
from castcore.api.errors import ApiError, Conflict
from castcore.api.fields import remember_url, unmasked_url
from castcore.events import publish
from castcore.secrets import remember
from workers.ffmpeg.masking import mask_url
from workers.ffmpeg.spec import SpecError

JOB_FIELDS = (
    "name", "input_kind", "input_path", "input_url", "input_url_kind", "input_pattern",
    "input_width", "input_height", "input_rate", "input_with_audio", "input_media_item",
    "input_media_source", "input_media_folder", "profile", "loop",
    "realtime", "reconnect_max_attempts", "reconnect_base_seconds", "reconnect_cap_seconds",
    "reconnect_jitter", "stall_timeout_seconds", "autostart", "recording_enabled",
    "disk_quota_mb",
)  # fmt: skip
OUTPUT_FIELDS = ("name", "kind", "url", "stream_key", "platform_account", "container", "enabled")
# A worker owns an ffmpeg (or is about to start one) that must pick up a recording toggle.
LIVE_JOB_STATES = (JobState.STARTING, JobState.RUNNING, JobState.RECONNECTING)


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# Bounds of the job's own numbers (the profile's are the engine's, ProfileSpec).
# Beyond them a value is a typo (or a probe): 1e308 s of backoff is never meant.
JOB_BOUNDS: dict[str, tuple[float, float]] = {
    "input_width": (16, 7680),
    "input_height": (16, 4320),
    "input_rate": (1, 120),
    "reconnect_max_attempts": (0, 1_000_000),  # None: forever
    "reconnect_base_seconds": (0.01, 3600),
    "reconnect_cap_seconds": (0.01, 86_400),
    "reconnect_jitter": (0, 1),
    "stall_timeout_seconds": (1, 86_400),
}


def _check_policy(job: StreamJob) -> None:
    if not 0 < job.reconnect_base_seconds <= job.reconnect_cap_seconds:
        raise ApiError("stream_job.invalid_backoff", {"field": "reconnect_base_seconds"})
    for name, (low, high) in JOB_BOUNDS.items():
        value = getattr(job, name)
        if value is not None and not low <= value <= high:
            raise ApiError("validation.out_of_range", {"field": name, "min": low, "max": high})


def _unmasked(stored: str, submitted: str, shown: str, field: str) -> str:
    return unmasked_url(stored, submitted, shown=shown, field=field, code="stream_job.masked_url")


def _output_rows(job: StreamJob, outputs: Sequence[Mapping[str, Any]]) -> list[StreamOutput]:
    """Unsaved rows for `outputs`; an entry with an `id` and no stream_key keeps its key,
    and its masked URL (as read) keeps the stored URL."""
    existing = {output.pk: output for output in job.outputs.all()} if job.pk else {}
    rows = []
    for position, data in enumerate(outputs):
        output_id = data.get("id")
        previous = existing.get(int(output_id)) if output_id is not None else None
        values = {name: data[name] for name in OUTPUT_FIELDS if name in data}
        if previous is not None and "stream_key" not in data:
            values["stream_key"] = previous.stream_key
        if "url" in values:
            stored = previous.url if previous is not None else ""
            shown = shown_output_url(previous.kind, stored) if previous is not None else ""
            values["url"] = _unmasked(stored, values["url"], shown, f"outputs.{position}.url")
        remember(values.get("stream_key") or "")
        remember_url(values.get("url") or "")
        rows.append(StreamOutput(job=job if job.pk else None, position=position, **values))
    return rows


def _validate(job: StreamJob, rows: list[StreamOutput]) -> None:
    """Build the engine spec once: every bad value becomes a 400 with the engine's code."""
    policy = target_policy()
    try:
        input_spec_for(job, resolve=False, policy=policy)
    except SpecError as exc:
        raise as_api_error(exc) from None
    for index, row in enumerate(rows):
        try:
            output_spec_for(row, policy=policy, resolve=False)
        except SpecError as exc:
            raise as_api_error(exc, prefix=f"outputs.{index}.") from None
    try:
        job_spec_for(job, outputs=rows, resolve=False, recording_path=checked_recording(job))
    except SpecError as exc:
        raise as_api_error(exc) from None
    _check_policy(job)


def _save_outputs(job: StreamJob, rows: list[StreamOutput]) -> None:
    job.outputs.all().delete()
    for row in rows:
        row.job = job
    StreamOutput.objects.bulk_create(rows)


def _output_summary(rows: Sequence[StreamOutput]) -> list[dict[str, Any]]:
    # For the audit log: which targets, never their keys or URL credentials.
    return [
        {"kind": row.kind, "url": shown_output_url(row.kind, row.url), "enabled": row.enabled}
        for row in rows
    ]


def _audit_input_url(changes: dict[str, Any], before: str | None, after: str) -> None:
    # The masked URL says where the input is; diff_changes would hide all of it.
    if "input_url" in changes:
        changes["input_url"] = [mask_url(before) if before else before, mask_url(after)]


def stream_job_validate(
    *, job: StreamJob, outputs: Sequence[Mapping[str, Any]]
) -> list[StreamOutput]:
    """Check a (possibly unsaved) job and its outputs as create and update do; the rows.

    The command preview calls this too, so it accepts exactly what a save accepts.
    """
    rows = _output_rows(job, outputs)
    _validate(job, rows)
    return rows


@transaction.atomic
def stream_job_create(
    *,
    actor: Any,
    outputs: Sequence[Mapping[str, Any]],
    request: HttpRequest | None = None,
    **fields: Any,
) -> StreamJob:
    if "input_url" in fields:
        fields["input_url"] = _unmasked("", fields["input_url"], "", "input_url")
    job = StreamJob(owner=_actor(actor), created_by=_actor(actor), **fields)
    remember_url(job.input_url)
    rows = stream_job_validate(job=job, outputs=outputs)
    job.save()
    _save_outputs(job, rows)
    changes = diff_changes(
        {}, snapshot(job, [f for f in JOB_FIELDS if f in fields]), secret_fields={"input_url"}
    )
    _audit_input_url(changes, None, job.input_url)
    changes["outputs"] = [None, _output_summary(rows)]
    audit_record(
        actor=actor, action="stream_job.create", target=job, changes=changes, request=request
    )
    return job


@transaction.atomic
def stream_job_update(
    *,
    actor: Any,
    job: StreamJob,
    outputs: Sequence[Mapping[str, Any]] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> StreamJob:
    """Changes apply from the job's next start; a running process keeps its argv."""
    job = StreamJob.objects.select_for_update().get(pk=job.pk)
    if "input_url" in fields:
        # Sending back the masked URL (as read) keeps the stored one and its credentials.
        stored = job.input_url
        fields["input_url"] = _unmasked(stored, fields["input_url"], mask_url(stored), "input_url")
    before = snapshot(job, fields)
    for name, value in fields.items():
        setattr(job, name, value)
    remember_url(job.input_url)
    old_rows = list(job.outputs.all())
    rows = _output_rows(job, outputs) if outputs is not None else old_rows
    _validate(job, rows)
    job.save()
    changes = diff_changes(before, snapshot(job, fields), secret_fields={"input_url"})
    _audit_input_url(changes, before.get("input_url"), job.input_url)
    if outputs is not None:
        _save_outputs(job, rows)
        changes["outputs"] = [_output_summary(old_rows), _output_summary(rows)]
    audit_record(
        actor=actor, action="stream_job.update", target=job, changes=changes, request=request
    )
    return job


@transaction.atomic
def stream_job_duplicate(
    *, actor: Any, job: StreamJob, name: str | None = None, request: HttpRequest | None = None
) -> StreamJob:
    """A stopped copy with the same settings and outputs (stream keys included)."""
    copy = StreamJob(
        **{field: getattr(job, field) for field in JOB_FIELDS},
        owner=_actor(actor),
        created_by=_actor(actor),
    )
    copy.name = name or f"{job.name} (copy)"[:200]
    copy.autostart = False  # a copy publishing to the same keys at boot would fight the original
    copy.save()
    StreamOutput.objects.bulk_create(
        StreamOutput(job=copy, position=o.position, **{f: getattr(o, f) for f in OUTPUT_FIELDS})
        for o in job.outputs.all()
    )
    audit_record(
        actor=actor,
        action="stream_job.duplicate",
        target=copy,
        changes={"source": [None, job.pk]},
        request=request,
    )
    return copy


@transaction.atomic
def stream_job_delete(*, actor: Any, job: StreamJob, request: HttpRequest | None = None) -> None:
    audit_record(actor=actor, action="stream_job.delete", target=job, request=request)
    # Conditional delete: a start racing with this delete either wins (409 here) or loses.
    idle = [state for state in JobState.values if state not in ACTIVE_JOB_STATES]
    if StreamJob.objects.filter(pk=job.pk, live_stream__isnull=False).exists():
        # A live stream's job goes with its stream (DELETE /live-streams/{id}).
        raise Conflict("stream_job.owned_by_live_stream", {"job": job.pk})
    deleted, _ = StreamJob.objects.filter(pk=job.pk, state__in=idle).delete()
    if not deleted:
        state = StreamJob.objects.filter(pk=job.pk).values_list("state", flat=True).first()
        raise Conflict("stream_job.running", {"state": state})


class RecordingApplies(StrEnum):
    """When a recording toggle takes effect (the `applies` of the API response)."""

    UNCHANGED = "unchanged"  # it already was so
    NEXT_START = "next_start"  # no ffmpeg runs now; the next one starts with it
    RESTARTED = "restarted"  # the running ffmpeg restarts at once, in the same run


@transaction.atomic
def stream_job_set_recording(
    *, actor: Any, job: StreamJob, enabled: bool, request: HttpRequest | None = None
) -> tuple[StreamJob, RecordingApplies]:
    """Turn recording on or off; a running job restarts its ffmpeg so the file starts/ends now.

    The owning worker sees the toggle on its next heartbeat (the nudge makes that
    at once), stops ffmpeg with SIGINT and starts it again within the same run:
    output pauses briefly and a file input continues from its position. A file
    that ends becomes a recording row as soon as its process has ended.
    """
    changed = StreamJob.objects.filter(pk=job.pk, recording_enabled=not enabled).update(
        recording_enabled=enabled
    )
    job.refresh_from_db()
    if not changed:
        return job, RecordingApplies.UNCHANGED
    audit_record(
        actor=actor,
        action="stream_job.recording",
        target=job,
        changes={"recording_enabled": [not enabled, enabled]},
        request=request,
    )
    if job.state not in LIVE_JOB_STATES:
        return job, RecordingApplies.NEXT_START
    event: StreamControlEvent = {"type": "stream.control", "job_id": job.pk, "command": "recording"}
    publish(control_group(job.pk), event)
    return job, RecordingApplies.RESTARTED
