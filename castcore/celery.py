"""The Celery application: JSON only, three named queues, beat from the database."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
)
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "castcore.settings")

QUEUES = ("default", "ffmpeg", "scans")

app = Celery("castcore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]


def _task_modules() -> list[str]:
    """Every top-level module of workers/ holds tasks (the ffmpeg/ package holds none)."""
    import pkgutil

    import workers

    return [
        f"workers.{module.name}"
        for module in pkgutil.iter_modules(workers.__path__)
        if not module.ispkg and not module.name.startswith("_")
    ]


app.autodiscover_tasks(_task_modules, related_name=None)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes a WorkerHeartbeat row every few seconds, for /system/health."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings
        from django.utils import timezone

        started_at = timezone.now()
        queues = [queue.name for queue in worker.app.amqp.queues.consume_from.values()] or list(
            QUEUES
        )

        def beat() -> None:
            from django.db import close_old_connections

            from apps.system.services import worker_heartbeat_record

            # The timer thread keeps its connection between beats; drop it if
            # the database restarted meanwhile.
            close_old_connections()
            worker_heartbeat_record(
                hostname=worker.hostname,
                queues=queues,
                embedded=getattr(worker, "castcore_embedded", False),
                started_at=started_at,
            )

        beat()
        self.tref = worker.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_SECONDS, beat, priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(HeartbeatStep)


@task_prerun.connect
@task_postrun.connect
def _recycle_old_connections(**kwargs: Any) -> None:
    """Around every task, what Django does around every request.

    Celery's Django fixup closes each database connection before and after
    every task unless CELERY_DB_REUSE_MAX is set (settings.py sets it), so
    every stream start opened a new PostgreSQL connection: 15-30 ms of the
    time from POST start to a running ffmpeg. Connections now live for
    CONN_MAX_AGE and are health-checked (CONN_HEALTH_CHECKS) after a restart.
    """
    from django.db import close_old_connections

    close_old_connections()


@worker_ready.connect
@worker_process_init.connect
def _freeze_startup_objects(**kwargs: Any) -> None:
    """The worker (or a prefork child) has started: keep its start-up objects out of GC."""
    from castcore.heap import freeze_startup_objects

    freeze_startup_objects()


@beat_init.connect
def _autostart_on_boot(sender: Any = None, **kwargs: Any) -> None:
    """Start the jobs marked autostart once per deployment start.

    Beat runs once per deployment (embedded or distributed), so its start is
    the deployment's start; a periodic schedule would instead restart jobs an
    operator stopped.
    """
    app.send_task("workers.stream_jobs.autostart_stream_jobs", queue="default")
