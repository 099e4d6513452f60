"""Celery tasks of the recordings app (queue "default"): thin wrappers around its services."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="workers.recordings.cleanup_unclaimed_recordings", ignore_result=True)
def cleanup_unclaimed_recordings() -> dict[str, Any]:
    """Hide, then delete, recordings no one claimed; reset streams whose producer vanished.

    Beat runs it every CASTCORE_RETENTION_INTERVAL_SECONDS (settings.CELERY_BEAT_SCHEDULE).
    Pages and the API already show a vanished producer's stream as offline
    (TerminalStream.is_live); this fixes the stored flag and finishes its recording.
    """
    from apps.recordings.services import recordings_cleanup_unclaimed
    from apps.recordings.stream_services import streams_reset_stale

    report = recordings_cleanup_unclaimed()
    done = {
        "hidden": len(report.hidden),
        "deleted": len(report.deleted),
        "freed_bytes": report.freed_bytes,
        "temporary_users_deleted": report.temporary_users_deleted,
        "stale_streams_reset": len(streams_reset_stale()),
    }
    if any(done.values()):  # housekeeping speaks only when it did something
        logger.info("Recordings retention: %s", done)
    return done


@shared_task(name="workers.recordings.reset_stale_streams", ignore_result=True)
def reset_stale_streams(seen_before: str | None = None) -> list[int]:
    """Reset streams whose producer was last seen before `seen_before` (ISO 8601;
    default: the staleness cutoff). Sent at the embedded web process's start."""
    from apps.recordings.stream_services import streams_reset_stale

    cutoff = datetime.fromisoformat(seen_before) if seen_before else None
    return streams_reset_stale(seen_before=cutoff)


# Sent with apply_async(queue="ffmpeg") by apps.recordings.services when a video
# recording is saved: it runs ffmpeg, so it goes where ffmpeg work is pinned.
@shared_task(name="workers.recordings.make_recording_playable", ignore_result=True)
def make_recording_playable(recording_id: int) -> None:
    """Make a video recording's browser-playable copy and poster.

    No retry: ffmpeg fails the same way twice on the same file, and the failure is
    recorded on the row (playable_error); a redelivered message makes the same
    files again, written whole or not at all. Acknowledged on receipt, so a file
    that kills its worker is not handed to the next one forever; ffmpeg dies with a
    killed worker, and `manage.py make_recordings_playable` makes what it left.
    """
    from apps.recordings.services import recording_make_playable

    recording_make_playable(recording_id=recording_id)
