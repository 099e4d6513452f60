"""Fixed-window message counters shared by every web process (Redis), or this process's cache.

One Redis round trip per message for all its counters (a pipeline of INCR and
EXPIRE per window): Django's cache API takes three per counter (add, then incr,
which checks that the key exists first), and a message has four counters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache as once
from typing import Any

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Window:
    count: int
    seconds: int


@once
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def _bucket(now: float, window: Window) -> str:
    return f"{window.seconds}:{int(now // window.seconds)}"


def hit(counters: list[tuple[str, Window]]) -> list[int]:
    """Count one event against each (key, window); the seconds to wait for each one over."""
    now = time.time()
    names = [
        # The count is in the name too: two limits of one length (5/60 and 30/60) on one
        # key would otherwise share a counter, and each event would count twice.
        (f"castcore:chat:rate:{key}:{window.count}/{_bucket(now, window)}", window)
        for key, window in counters
    ]
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        for name, window in names:
            pipe.incr(name)
            pipe.expire(name, window.seconds + 1)
        counts = pipe.execute()[::2]
    else:
        counts = []
        for name, window in names:
            cache.add(name, 0, timeout=window.seconds + 1)
            try:
                counts.append(cache.incr(name))
            except ValueError:  # expired between add and incr
                cache.add(name, 1, timeout=window.seconds + 1)
                counts.append(1)
    waits = []
    for (_, window), count in zip(names, counts, strict=True):
        if int(count) > window.count:
            window_end = (int(now // window.seconds) + 1) * window.seconds
            waits.append(max(1, int(window_end - now) + 1))
    return waits
