"""Periodic housekeeping is quiet: its Celery log lines go to DEBUG.

Beat sends the reconciler every 10 s; at INFO, Celery's "Sending due task",
"received" and "succeeded" lines were three log lines every 10 s from an idle
server. The housekeeping tasks log what they did themselves (the reconciler
warns for each run it takes back; the retention task says what it removed), so
Celery's own lines about them carry nothing at INFO.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

# The loggers Celery announces a task's dispatch, receipt and success on.
CELERY_TASK_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


def _task_name(record: logging.LogRecord) -> str | None:
    args: Any = record.args
    if isinstance(args, dict):  # worker: "Task %(name)s[%(id)s] received/succeeded"
        name = args.get("name")
        return name if isinstance(name, str) else None
    if isinstance(args, tuple) and len(args) == 2:  # beat: "Sending due task %s (%s)"
        return args[1] if isinstance(args[1], str) else None
    return None


class QuietHousekeeping(logging.Filter):
    """Demotes INFO lines about the beat schedule's tasks to DEBUG (dropped unless DEBUG is on).

    The task names are read from the settings at the first line to filter, not when
    the filter is installed: castcore.celery installs it on import, before some
    entry points (castcore/asgi.py) have chosen the settings' environment.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _task_name(record) not in _housekeeping_tasks():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


@functools.cache
def _housekeeping_tasks() -> frozenset[str]:
    from django.conf import settings

    schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    return frozenset(str(entry["task"]) for entry in schedule.values())


def quiet_housekeeping() -> None:
    """Install the filter on Celery's task loggers (idempotent)."""
    for name in CELERY_TASK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietHousekeeping) for f in logger.filters):
            logger.addFilter(QuietHousekeeping())
