"""Celery tasks of stream jobs: thin wrappers that load ids and call apps.streams.runtime."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, name="workers.stream_jobs.run_stream_job", acks_late=False, ignore_result=True
)
def run_stream_job(self: Any, run_id: int, fencing_token: int) -> str:
    """Supervise run `run_id` for as long as it lasts (hours, for a 24/7 job).

    Not retried and acknowledged on receipt: the run's lease row, not this
    message, owns the work; if the worker dies, the reconciler takes it back.
    A worker that is stopping sends the message on, unclaimed, for another worker
    (or itself after its restart) to take: a claim now would only hand over at once.
    """
    from apps.streams.runtime.supervisor import handing_over, run_stream

    if handing_over():
        run_stream_job.apply_async(args=[run_id, fencing_token], queue="ffmpeg")
        return "handover"
    worker = self.request.hostname or "unknown"
    return run_stream(run_id=run_id, token=fencing_token, worker=worker)


@shared_task(name="workers.stream_jobs.reconcile_stream_runs", ignore_result=True)
def reconcile_stream_runs() -> dict[str, list[int]]:
    """Beat task: take back runs whose lease expired or no worker claimed; settle their jobs."""
    from dataclasses import asdict

    from apps.streams.runtime.reconcile import reconcile_runs

    return asdict(reconcile_runs())


@shared_task(name="workers.stream_jobs.autostart_stream_jobs", ignore_result=True)
def autostart_stream_jobs() -> list[int]:
    """Start every stopped job marked autostart (run once at deploy/boot, or from beat).

    A job that may not start (over its disk quota, an output that became invalid) is
    logged and skipped: the jobs after it still start.
    """
    from apps.streams.models import JobState, StreamJob
    from apps.streams.services import stream_job_start
    from castcore.api.errors import ApiError

    started = []
    for job in StreamJob.objects.filter(autostart=True, state=JobState.STOPPED):
        try:
            stream_job_start(actor=None, job=job)
        except ApiError as exc:
            logger.warning(
                "autostart of stream job %s refused: %s %s", job.pk, exc.code, exc.params
            )
            continue
        started.append(job.pk)
    return started
