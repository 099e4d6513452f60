"""Writes of live streams: create (with its job), update, key rotation and revocation, delete.

Publish sessions (nginx-rtmp's callbacks, the grace period) are in sessions.py and
re-exported here, so that callers import every live write from one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.streams.live import ingest
from apps.streams.live.models import LiveStream, ingest_key_digest, new_ingest_key
from apps.streams.live.paths import clear_hls_dir
from apps.streams.live.sessions import (
    live_publish_done,
    live_publish_start,
    live_session_end_after_grace,
    live_session_link_recording,
    live_session_recording_of_run,
    live_sessions_publishers_lost,
    live_sessions_reconcile,
    live_stream_stop,
)
from apps.streams.live.validation import (
    allocate_srt_port,
    check_variants,
    clean_page_content,
    strip_markup,
)
from apps.streams.models import FFmpegProfile, InputKind, StreamJob
from apps.streams.services import stream_job_delete, stream_job_stop, stream_job_update
from castcore.api.errors import Conflict
from castcore.events import emit
from castcore.secrets import remember

__all__ = [
    "live_publish_done",
    "live_publish_start",
    "live_session_end_after_grace",
    "live_session_link_recording",
    "live_session_recording_of_run",
    "live_sessions_publishers_lost",
    "live_sessions_reconcile",
    "live_stream_create",
    "live_stream_delete",
    "live_stream_revoke_key",
    "live_stream_rotate_key",
    "live_stream_set_key",
    "live_stream_stop",
    "live_stream_update",
]

STREAM_FIELDS = (
    "name", "slug", "title", "summary", "tags", "logo", "page_content", "nsfw",
    "social_links", "visibility", "latency_level", "variants", "srt_enabled",
)  # fmt: skip
# Fields of the stream's job that the live stream API sets.
JOB_FIELDS = ("profile", "recording_enabled")

# The job's reconnect policy: a publisher may drop (a phone on a train, OBS restarting)
# and return within the grace period; ffmpeg, whose input then ends or stalls, retries
# quickly and for as long as the session lasts. The session's end stops the job.
LIVE_JOB_POLICY: dict[str, Any] = {
    "reconnect_max_attempts": None,
    "reconnect_base_seconds": 0.5,
    "reconnect_cap_seconds": 2.0,
    "reconnect_jitter": 0.2,
    "stall_timeout_seconds": 10.0,
    "realtime": False,  # a live input comes at its own pace: -re would only add delay
    "autostart": False,  # a publish starts it
}


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _job_name(stream: LiveStream) -> str:
    return f"Live: {stream.name}"[:200]


def _clean(fields: dict[str, Any], stream: LiveStream | None) -> None:
    """Normalise and check the stream's own fields in place (400 envelopes)."""
    if "page_content" in fields:
        fields["page_content"] = clean_page_content(fields["page_content"])
    if "summary" in fields:
        fields["summary"] = strip_markup(fields["summary"])
    if "variants" in fields:
        fields["variants"] = check_variants(fields["variants"])


def _set_srt_port(stream: LiveStream) -> None:
    if stream.srt_enabled and stream.srt_port is None:
        stream.srt_port = allocate_srt_port(exclude_stream=stream.pk)
    elif not stream.srt_enabled:
        stream.srt_port = None


@transaction.atomic
def live_stream_create(
    *,
    actor: Any,
    profile: FFmpegProfile,
    outputs: Sequence[Mapping[str, Any]] = (),
    recording_enabled: bool = False,
    request: HttpRequest | None = None,
    **fields: Any,
) -> tuple[LiveStream, str]:
    """A live stream, its job and its first ingest key; returns (stream, key in clear).

    The key is returned this once: it is stored encrypted and only shown masked.
    All rows are written in one transaction, so a refused output leaves nothing.
    """
    _clean(fields, None)
    owner = _actor(actor)
    key = new_ingest_key()
    remember(key)
    job = StreamJob.objects.create(
        name=_job_name(LiveStream(name=fields.get("name", ""))),
        owner=owner,
        created_by=owner,
        input_kind=InputKind.URL,
        input_url_kind="rtmp",
        profile=profile,
        recording_enabled=recording_enabled,
        **LIVE_JOB_POLICY,
    )
    stream = LiveStream(
        owner=owner, job=job, ingest_key=key, ingest_key_digest=ingest_key_digest(key), **fields
    )
    _set_srt_port(stream)
    stream.save()
    # The job reads this stream's own ingest: known once the stream has its id.
    job.input_url = ingest.internal_ingest_url(stream.pk)
    job.save(update_fields=["input_url"])
    # The outputs are the job's, validated and saved by the stream job service.
    stream_job_update(actor=actor, job=job, outputs=outputs, request=request)
    changes = diff_changes({}, snapshot(stream, [f for f in STREAM_FIELDS if f in fields]))
    changes["job"] = [None, job.pk]
    audit_record(
        actor=actor, action="live_stream.create", target=stream, changes=changes, request=request
    )
    return stream, key


@transaction.atomic
def live_stream_update(
    *,
    actor: Any,
    stream: LiveStream,
    outputs: Sequence[Mapping[str, Any]] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> LiveStream:
    """Changes to the ladder, outputs and recording apply from the job's next start."""
    stream = LiveStream.objects.select_for_update().get(pk=stream.pk)
    job_fields = {name: fields.pop(name) for name in JOB_FIELDS if name in fields}
    _clean(fields, stream)
    before = snapshot(stream, fields)
    for name, value in fields.items():
        setattr(stream, name, value)
    _set_srt_port(stream)
    stream.save()
    if "name" in fields:
        job_fields["name"] = _job_name(stream)
    if job_fields or outputs is not None:
        stream_job_update(
            actor=actor, job=stream.job, outputs=outputs, request=request, **job_fields
        )
    changes = diff_changes(before, snapshot(stream, fields))
    audit_record(
        actor=actor, action="live_stream.update", target=stream, changes=changes, request=request
    )
    if "title" in changes:
        emit(
            "live_stream.title_updated",
            {
                "live_stream_id": stream.pk,
                "slug": stream.slug,
                "name": stream.name,
                "title": stream.display_title,
                "previous_title": before.get("title", ""),
            },
            subject=f"live_stream:{stream.pk}",
        )
    return stream


@transaction.atomic
def live_stream_set_key(
    *, actor: Any, stream: LiveStream, key: str, request: HttpRequest | None = None
) -> str:
    """Replace the ingest key with `key` (a new one, or one the operator chose); returns it.

    The old key is refused from now on; a publisher connected now keeps publishing and
    needs the new key to reconnect. 409 when another stream has that key.
    """
    remember(key)
    digest = ingest_key_digest(key)
    if LiveStream.objects.filter(ingest_key_digest=digest).exclude(pk=stream.pk).exists():
        raise Conflict("live_stream.key_in_use")
    LiveStream.objects.filter(pk=stream.pk).update(
        ingest_key=key, ingest_key_digest=digest, ingest_key_rotated_at=timezone.now()
    )
    stream.refresh_from_db()
    audit_record(
        actor=actor,
        action="live_stream.rotate_key",
        target=stream,
        changes={"ingest_key": ["••••", "••••"]},
        request=request,
    )
    return key


def live_stream_rotate_key(
    *, actor: Any, stream: LiveStream, request: HttpRequest | None = None
) -> str:
    """A new ingest key made by CastCore, returned in clear this once."""
    return live_stream_set_key(actor=actor, stream=stream, key=new_ingest_key(), request=request)


@transaction.atomic
def live_stream_revoke_key(
    *, actor: Any, stream: LiveStream, request: HttpRequest | None = None
) -> LiveStream:
    """No key at all: every publish is refused, and the current one is ended now."""
    LiveStream.objects.filter(pk=stream.pk).update(
        ingest_key="", ingest_key_digest="", ingest_key_rotated_at=timezone.now()
    )
    stream.refresh_from_db()
    audit_record(
        actor=actor,
        action="live_stream.revoke_key",
        target=stream,
        changes={"ingest_key": ["••••", ""]},
        request=request,
    )
    live_stream_stop(actor=actor, stream=stream, request=request)
    return stream


def live_stream_delete(
    *, actor: Any, stream: LiveStream, request: HttpRequest | None = None
) -> None:
    """End any publish, stop the job, and delete the stream with its job and sessions.

    A job still stopping (its worker ends ffmpeg within the stop grace) cannot be
    deleted yet: 409 `stream_job.running`, as for any job; the client retries.
    """
    live_stream_stop(actor=actor, stream=stream, request=request)
    stream_id = stream.pk
    job = stream.job
    stream_job_stop(actor=actor, job=job, request=request)
    with transaction.atomic():
        audit_record(actor=actor, action="live_stream.delete", target=stream, request=request)
        LiveStream.objects.filter(pk=stream.pk).delete()
        # Refused while its worker still stops ffmpeg: the stream's delete rolls back too.
        stream_job_delete(actor=actor, job=job, request=request)
    # Its playlists and segments: nothing serves them any more, and a new stream with a
    # reused id must not start from them.
    clear_hls_dir(stream_id)
