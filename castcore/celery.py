"""The Celery application: JSON only, three named queues, beat from the database."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery, bootsteps
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
    worker_shutting_down,
)
from kombu import Queue

from castcore.task_logs import quiet_housekeeping

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


# Not a settings read: importing this module must not load the settings (castcore/asgi.py
# sets the pool's environment first).
quiet_housekeeping()


def consumed_queues(worker: Any) -> list[str]:
    return [queue.name for queue in worker.app.amqp.queues.consume_from.values()] or list(QUEUES)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes a WorkerHeartbeat row every few seconds, for /system/health.

    On the worker's timer, which with the Redis broker is the event loop that takes
    tasks: a worker whose loop is stuck stops beating, and health says so.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings
        from django.utils import timezone

        started_at = timezone.now()
        queues = consumed_queues(worker)

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


class RunFolderSweepStep(bootsteps.StartStopStep):
    """On a worker that runs ffmpeg: settle the run folders a dead worker left on this host.

    Run folders are on the disk of the worker that ran them, and beat's reconciler may
    run on another host; so each host's ffmpeg workers sweep their own VAR_DIR, every
    reconcile interval. On a thread of its own, not the worker's timer: a sweep probes
    and moves recordings, and on the timer (the event loop that takes tasks, with the
    Redis broker) it would hold up every stream start meanwhile.
    """

    # A warm shutdown lets a sweep under way finish (a recording half moved into storage
    # would have no row) for up to this long.
    STOP_TIMEOUT_SECONDS = 60.0

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, worker: Any) -> None:
        if "ffmpeg" in consumed_queues(worker):
            self.thread = threading.Thread(target=self._loop, name="run-folder-sweep", daemon=True)
            self.thread.start()

    def stop(self, worker: Any) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(self.STOP_TIMEOUT_SECONDS)

    def _loop(self) -> None:
        from django.db import close_old_connections, connections

        from apps.streams import conf
        from apps.streams.runtime.reconcile import sweep_run_workdirs

        try:
            while not self.stopped.wait(conf.RECONCILE_INTERVAL_SECONDS):
                close_old_connections()  # kept between sweeps; dropped if the database restarted
                try:
                    sweep_run_workdirs()
                except Exception:
                    logger.exception("sweeping this host's run folders failed; next time again")
        finally:
            connections.close_all()


class StreamHandoverStep(bootsteps.StartStopStep):
    """On a warm shutdown (SIGTERM from docker or systemd), hand this worker's stream runs over.

    Celery's warm shutdown waits for running tasks, and a stream task runs for hours:
    the worker ignored SIGTERM until its SIGKILL came. This step stops before the pool
    (steps stop in reverse order; it requires the pool), after the consumer took its
    last task: each run stops its ffmpeg with SIGINT, releases its lease and dispatches
    a resume that another worker takes at once (apps.streams.runtime.supervisor). The
    pool then finds the stream tasks ended, within a stop's grace.
    """

    requires = {"celery.worker.components:Pool"}

    def start(self, worker: Any) -> None:
        from apps.streams.runtime.supervisor import accept_runs

        accept_runs()

    def stop(self, worker: Any) -> None:
        from apps.streams.runtime.supervisor import hand_over_runs

        if count := hand_over_runs():
            logger.info("worker stopping: handing %s stream run(s) over", count)


@worker_shutting_down.connect
def _hand_over_on_the_signal(how: str = "", **kwargs: Any) -> None:
    """On SIGTERM itself, not only once the worker's loop notices it (the step above).

    systemd (KillMode=control-group) sends SIGTERM to ffmpeg too, at the same moment:
    a run that saw its ffmpeg end before it knew the worker was stopping counted a
    failure, and a job without reconnect attempts failed. Runs on the main thread in
    the signal handler: it only sets an event and wakes the runs (the step imported
    the module when the worker started).
    """
    if how == "Warm":
        from apps.streams.runtime.supervisor import hand_over_runs

        hand_over_runs()


app.steps["worker"].add(HeartbeatStep)
app.steps["worker"].add(RunFolderSweepStep)
app.steps["worker"].add(StreamHandoverStep)


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
