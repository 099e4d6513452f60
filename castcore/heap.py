"""Keep the garbage collector off what a process built while starting.

A web or worker process starts with some 180,000 objects that live as long as
it does: Django, DRF, the models, the URL patterns, the Celery app. Every full
collection walked all of them, about 100 ms on a 2-core machine, paused in
the middle of whatever the process was doing: a burst of log frames to 200
sockets, a start request. Frozen, they are left out of every collection; a
full collection then takes a few ms.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Call once start-up is over: later objects are collected as before."""
    gc.collect()  # garbage of the start-up is freed, not kept for ever
    gc.freeze()
