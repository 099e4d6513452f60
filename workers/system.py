"""Periodic checks of the system app (queue "default"): thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workers.system.watch_disk_space", ignore_result=True)
def watch_disk_space() -> str | None:
    """Announce free space falling low and coming back (apps.system.services.disk_space_watch).

    Beat runs it every CASTCORE_DISK_CHECK_INTERVAL_SECONDS on a worker of the default
    queue, which measures the folders as that host sees them. Not retried: the next
    check comes soon, and the announcement's state makes a repeated one harmless.
    """
    from apps.system.services import disk_space_watch

    return disk_space_watch()
