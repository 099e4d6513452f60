"""Celery task of live viewer counts (queue "default"): a thin wrapper around its service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workers.live_viewers.sample_live_viewers", ignore_result=True)
def sample_live_viewers() -> int:
    """Write a ViewerSample for every stream with an open session and raise its peak.

    Beat runs it every CASTCORE_VIEWER_SAMPLE_SECONDS (settings.CELERY_BEAT_SCHEDULE).
    Not retried: a missed sample is a gap in a chart, and the next one comes soon.
    The counts are read from Redis (distributed) or from the embedded process's
    memory, where the in-process worker runs beside the web views that count.
    """
    from apps.streams.live.viewers import viewer_samples_record

    return viewer_samples_record()
