"""Celery tasks for preflight and dry-run reports (queue "ffmpeg"): load by id, call the service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workers.preflight.run_preflight", ignore_result=True)
def run_preflight(report_id: int) -> None:
    from apps.streams.reports import stream_report_run_preflight

    stream_report_run_preflight(report_id=report_id)


@shared_task(name="workers.preflight.run_dry_run", ignore_result=True)
def run_dry_run(report_id: int) -> None:
    from apps.streams.reports import stream_report_run_dry_run

    stream_report_run_dry_run(report_id=report_id)
