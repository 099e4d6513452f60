"""Writes for live terminal streams: endpoints, the producer's presence, recording a broadcast."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.models import User
from apps.accounts.services import hash_secret
from apps.recordings import conf
from apps.recordings.asciicast import AsciicastInvalid, parse_asciicast
from apps.recordings.models import Recording, TerminalStream, live_cutoff, new_url_token
from apps.recordings.services import announce_ready, default_visibility, update_editable
from castcore.events import publish


def _send_to_channel(channel: str, message: dict[str, Any]) -> None:
    """Send to one socket (not a group) once the transaction commits; best effort."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.send)(channel, message)
        except Exception:
            logger.warning("Could not reach producer socket", exc_info=True)

    transaction.on_commit(send)


logger = logging.getLogger("castcore.recordings.live")

EDITABLE_FIELDS = ("title", "description", "visibility", "audio_url", "record")


def stream_group(stream_id: int) -> str:
    """Channel-layer group of a stream's viewers."""
    return f"tstream.{stream_id}"


def stream_by_producer_token(raw: str) -> TerminalStream | None:
    return TerminalStream.objects.filter(producer_token_hash=hash_secret(raw)).first()


def stream_create(
    *,
    owner: User,
    title: str = "",
    description: str = "",
    visibility: str | None = None,
    audio_url: str = "",
    record: bool = False,
    request: HttpRequest | None = None,
) -> TerminalStream:
    producer_token = secrets.token_urlsafe(16)
    with transaction.atomic():
        stream = TerminalStream.objects.create(
            owner=owner,
            title=title or "",
            description=description or "",
            visibility=visibility or default_visibility(),
            audio_url=audio_url or "",
            record=record,
            producer_token=producer_token,
            producer_token_hash=hash_secret(producer_token),
        )
        audit_record(actor=owner, action="terminal_stream.create", target=stream, request=request)
    return stream


def stream_update(
    *, stream: TerminalStream, actor: Any, request: HttpRequest | None = None, **changes: Any
) -> TerminalStream:
    update_editable(
        stream,
        changes,
        editable=EDITABLE_FIELDS,
        actor=actor,
        action="terminal_stream.update",
        request=request,
    )
    if "record" in changes and stream.producer_channel:
        # The connected producer starts or stops writing a recording.
        _send_to_channel(
            stream.producer_channel, {"type": "producer.record", "on": bool(stream.record)}
        )
    return stream


def stream_delete(
    *, stream: TerminalStream, actor: Any, request: HttpRequest | None = None
) -> None:
    channel, stream_id = stream.producer_channel, stream.pk
    with transaction.atomic():
        audit_record(actor=actor, action="terminal_stream.delete", target=stream, request=request)
        stream.delete()
    if channel:
        _send_to_channel(channel, {"type": "producer.kick", "code": 4000})
    publish(stream_group(stream_id), {"type": "viewer.gone"})


# --- the producer's presence ------------------------------------------------------------


def stream_producer_attach(*, stream_id: int, channel: str) -> str | None:
    """Mark the stream live with this producer; returns the producer it replaces, if any.

    The newest producer wins (a CLI that reconnects after a network drop must
    not be locked out by its own stale connection).
    """
    with transaction.atomic():
        stream = TerminalStream.objects.select_for_update().get(pk=stream_id)
        previous = stream.producer_channel or None
        TerminalStream.objects.filter(pk=stream_id).update(
            live=True, producer_channel=channel, last_seen_at=timezone.now()
        )
    return previous if previous != channel else None


def stream_producer_detach(*, stream_id: int, channel: str) -> bool:
    """Not live any more, unless another producer took over meanwhile."""
    return (
        TerminalStream.objects.filter(pk=stream_id, producer_channel=channel).update(
            live=False, producer_channel=""
        )
        == 1
    )


def stream_producer_heartbeat(
    *, stream_id: int, channel: str, cols: int | None = None, rows: int | None = None
) -> bool:
    """The attached producer is still there; False if another producer took over.

    A flag cleared meanwhile (by `streams_reset_stale` while this producer's
    heartbeats were late) is set again: the socket is plainly still open.
    """
    values: dict[str, Any] = {"live": True, "producer_channel": channel}
    values["last_seen_at"] = timezone.now()
    if cols and rows:
        values.update(cols=cols, rows=rows)
    mine = Q(producer_channel=channel) | Q(producer_channel="")
    return TerminalStream.objects.filter(mine, pk=stream_id).update(**values) == 1


def streams_reset_stale(*, seen_before: datetime | None = None) -> list[int]:
    """Streams whose producer vanished are not live; their broadcast recordings are finished.

    `seen_before` defaults to the staleness cutoff (conf.LIVE_STALE_SECONDS);
    at a single web process's start it is that start, since every socket
    attached before is gone. Returns the ids of the streams reset.
    """
    cutoff = seen_before or live_cutoff()
    gone = TerminalStream.objects.exclude(live=False, producer_channel="").filter(
        Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True)
    )
    reset: list[int] = []
    for stream_id, recording_id in gone.values_list("pk", "recording_id"):
        # Conditional on the same staleness: a producer that attached meanwhile keeps it.
        if gone.filter(pk=stream_id).update(live=False, producer_channel="") != 1:
            continue
        reset.append(stream_id)
        if recording_id is not None:
            stream_recording_finish(recording_id=recording_id, stream_id=stream_id)
    if reset:
        logger.info("Reset %d live stream(s) whose producer vanished", len(reset))
    return reset


# --- recording a broadcast -------------------------------------------------------------


def stream_recording_start(*, stream_id: int) -> tuple[Recording, Path]:
    """A new terminal recording in status "started", and the file to write it to."""
    stream = TerminalStream.objects.select_related("owner").get(pk=stream_id)
    now = timezone.now()
    token = new_url_token()
    name = f"{conf.STORAGE_DIR}/terminal/{now:%Y/%m}/{token}.cast"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        recording = Recording.objects.create(
            kind=Recording.Kind.TERMINAL,
            owner=stream.owner,
            title=(stream.title or f"Stream {stream.pk}")[:200],
            visibility=stream.visibility,
            url_token=token,
            file=name,
            created_at=now,
            status=Recording.Status.STARTED,
        )
        TerminalStream.objects.filter(pk=stream_id).update(recording=recording)
        audit_record(actor=None, action="recording.create", target=recording, source="system")
    return recording, path


def stream_recording_finish(*, recording_id: int, stream_id: int | None = None) -> Recording:
    """Validate the written file: the recording becomes "available", or "failed" with a reason."""
    recording = Recording.objects.get(pk=recording_id)
    path = Path(settings.MEDIA_ROOT) / recording.file.name
    try:
        info = parse_asciicast(path.read_bytes(), max_bytes=conf.MAX_UPLOAD_BYTES)
        if info.event_count == 0:
            raise AsciicastInvalid("asciicast.empty")
    except (AsciicastInvalid, OSError) as exc:
        recording.status = Recording.Status.FAILED
        recording.reason = getattr(exc, "code", "io_error")[:64]
        recording.size = path.stat().st_size if path.exists() else 0
    else:
        recording.status = Recording.Status.AVAILABLE
        recording.duration = round(info.duration, 6)
        recording.size = path.stat().st_size
        recording.asciicast_version, recording.cols, recording.rows = (
            info.version,
            info.cols,
            info.rows,
        )
    with transaction.atomic():
        recording.save()
        if recording.status == Recording.Status.AVAILABLE:
            announce_ready(recording)
    if stream_id is not None:
        TerminalStream.objects.filter(pk=stream_id, recording_id=recording_id).update(
            recording=None
        )
    return recording
