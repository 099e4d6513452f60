"""Celery task of the scheduler (queue "default"): a thin wrapper around its service."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="workers.scheduler.run_scheduled_actions", ignore_result=True)
def run_scheduled_actions() -> int:
    """Run the scheduled actions whose occurrences came due; returns how many ran.

    Beat sends it every CASTCORE_SCHEDULER_INTERVAL_SECONDS. No retry: a tick that
    fails leaves the occurrences due, and the next tick (seconds later) finds them.
    Several copies may run at once (two beats, several workers): the service claims
    each occurrence with a unique row, so each still runs once.
    """
    from apps.channels.scheduling.services import scheduled_actions_run_due

    runs = scheduled_actions_run_due()
    if runs:  # housekeeping speaks only when it did something
        logger.info("Scheduler: %s occurrence(s) handled", len(runs))
    return len(runs)
