"""Whether this worker process was asked to stop (SIGTERM): long work hands itself over.

Celery's warm shutdown waits for the tasks that run; a stream run or a re-encode
can run for hours. castcore.celery sets this when the stop begins; each kind of
long work looks at it and ends early, leaving its work to another worker (stream
runs: apps.streams.runtime.supervisor; playable copies: apps.recordings.services).
"""

from __future__ import annotations

import threading

_stopping = threading.Event()


def worker_stopping() -> bool:
    return _stopping.is_set()


def mark_worker_stopping() -> None:
    _stopping.set()


def mark_worker_started() -> None:
    """A worker (re)started in this process: its work stays until told otherwise."""
    _stopping.clear()
