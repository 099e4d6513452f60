"""Periodic housekeeping is quiet: its Celery log lines go to DEBUG.

Beat sends the reconciler every 10 s; at INFO, Celery's "Sending due task",
"received" and "succeeded" lines were three log lines every 10 s from an idle
server. The housekeeping tasks log what they did themselves (the reconciler
warns for each run it takes back; the retention task says what it removed), so
Celery's own lines about them carry nothing at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
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
    """Demotes INFO lines about the named tasks to DEBUG (dropped unless DEBUG is on)."""

    def __init__(self, task_names: Iterable[str]) -> None:
        super().__init__()
        self.task_names = frozenset(task_names)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _task_name(record) not in self.task_names:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_housekeeping(beat_schedule: dict[str, dict[str, Any]]) -> None:
    """Install the filter for every task of the beat schedule (idempotent)."""
    quiet = QuietHousekeeping(entry["task"] for entry in beat_schedule.values())
    for name in CELERY_TASK_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, QuietHousekeeping)]:
            logger.removeFilter(old)
        logger.addFilter(quiet)
