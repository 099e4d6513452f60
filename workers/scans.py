"""Scan tasks (queue `scans`): take an id, call the service, nothing else."""

from __future__ import annotations

from celery import shared_task


# Sent with apply_async(queue="scans") by apps.media.scanning: the queue is chosen
# where the task is dispatched (Celery 6 drops the task-level `queue` attribute).
@shared_task(name="scans.scan_storage_source", ignore_result=True)
def scan_storage_source(scan_id: int) -> None:
    """Run a queued scan. No retry: a failed scan is recorded on its row and
    the operator starts a new one; the claim makes redelivery harmless."""
    from apps.media.services import media_scan_run

    media_scan_run(scan_id=scan_id)
