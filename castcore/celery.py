"""The Celery application: JSON only, three named queues, beat from the database."""

from __future__ import annotations

import logging
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
logger = logging.getLogger(__name__)

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


def consumed_queues(worker: Any) -> list[str]:
    return [queue.name for queue in worker.app.amqp.queues.consume_from.values()] or list(QUEUES)


class RepeatingStep(bootsteps.StartStopStep):
    """Calls `work` on the worker's timer thread every `interval()` seconds while it runs.

    Subclasses say how often, and whether a worker with these queues wants it at all.
    """

    requires = {"celery.worker.components:Timer"}
    run_at_start = False  # once in start(), before the first interval

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def wanted(self, queues: list[str]) -> bool:
        return True

    def interval(self) -> float:
        raise NotImplementedError

    def work(self, worker: Any, queues: list[str]) -> None:
        raise NotImplementedError

    def start(self, worker: Any) -> None:
        queues = consumed_queues(worker)
        if not self.wanted(queues):
            return

        def run() -> None:
            from django.db import close_old_connections

            # The timer thread keeps its connection between runs; drop it if the
            # database restarted meanwhile.
            close_old_connections()
            self.work(worker, queues)

        if self.run_at_start:
            run()
        self.tref = worker.timer.call_repeatedly(self.interval(), run, priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatStep(RepeatingStep):
    """Writes a WorkerHeartbeat row every few seconds, for /system/health."""

    run_at_start = True

    def start(self, worker: Any) -> None:
        from django.utils import timezone

        self.started_at = timezone.now()
        super().start(worker)

    def interval(self) -> float:
        from django.conf import settings

        return float(settings.WORKER_HEARTBEAT_SECONDS)

    def work(self, worker: Any, queues: list[str]) -> None:
        from apps.system.services import worker_heartbeat_record

        worker_heartbeat_record(
            hostname=worker.hostname,
            queues=queues,
            embedded=getattr(worker, "castcore_embedded", False),
            started_at=self.started_at,
        )


class RunFolderSweepStep(RepeatingStep):
    """On a worker that runs ffmpeg: settle the run folders a dead worker left on this host.

    Run folders are on the disk of the worker that ran them, and beat's reconciler may
    run on another host; so each host's ffmpeg workers sweep their own VAR_DIR.
    """

    def wanted(self, queues: list[str]) -> bool:
        return "ffmpeg" in queues

    def interval(self) -> float:
        from apps.streams import conf

        return conf.RECONCILE_INTERVAL_SECONDS

    def work(self, worker: Any, queues: list[str]) -> None:
        from apps.streams.runtime.reconcile import sweep_run_workdirs

        try:
            sweep_run_workdirs()
        except Exception:
            # The next interval tries again; a timer callback that raised is only logged.
            logger.exception("sweeping this host's run folders failed")


app.steps["worker"].add(HeartbeatStep)
app.steps["worker"].add(RunFolderSweepStep)


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
