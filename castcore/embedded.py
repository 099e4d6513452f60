"""The embedded mode's in-process Celery worker and beat.

`daphne castcore.asgi:application` alone must be a complete server, so the
ASGI module starts a Celery worker (thread pool) and beat inside the web
process. The broker is a folder under var/ (kombu's filesystem transport with
atomic writes, castcore/broker.py), so `manage.py` commands in other processes
still reach this worker.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger("castcore.embedded")

_started = threading.Event()
_lock = threading.Lock()


def start_embedded_worker() -> bool:
    """Start the worker and beat threads once per process; True if started now."""
    if not settings.EMBEDDED_WORKER:
        return False
    with _lock:
        if _started.is_set():
            return False
        _started.set()

    from celery.beat import EmbeddedService

    from apps.system.services import default_hostname
    from castcore.celery import QUEUES, app

    worker: Any = app.WorkController(
        hostname=default_hostname("embedded"),
        pool_cls="threads",
        concurrency=settings.EMBEDDED_WORKER_CONCURRENCY,
        queues=list(QUEUES),
        loglevel=settings.LOG_LEVEL,
        without_mingle=True,
        without_gossip=True,
    )
    worker.castcore_embedded = True
    threading.Thread(target=worker.start, name="castcore-embedded-worker", daemon=True).start()

    beat = EmbeddedService(app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
    beat.start()
    _stop_with_the_server(worker, beat)
    logger.info("Embedded Celery worker and beat started (queues: %s)", ", ".join(QUEUES))
    return True


def _stop_with_the_server(worker: Any, beat: Any) -> None:
    """Stop worker and beat before the interpreter tears their thread pools down.

    Under daphne the Twisted reactor is already installed when this module is
    imported; stopping on its shutdown trigger lets running tasks (FFmpeg
    supervisors) stop their processes instead of dying mid-call with
    "cannot schedule new futures after shutdown".
    """
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import reactor

    def stop() -> None:
        logger.info("Stopping the embedded Celery worker and beat")
        beat.stop()
        worker.stop(in_sighandler=False, exitcode=0)

    # (the zope-interface stubs mistype this method; the call is the documented one)
    reactor.addSystemEventTrigger("before", "shutdown", stop)  # type: ignore[arg-type]
