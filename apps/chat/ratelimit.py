"""Sliding-window rate limits, shared by every web process (Redis) or kept in this process.

A limit is `count` events in any `seconds`-long stretch, whatever the clock says:
the fixed windows this replaced (a counter per clock-aligned window) let 2 x count
events through around a window's end. Each counter keeps the times of its newest
`count` events (a sorted set in Redis, a deque here); an event is over the limit when
`count` of them are younger than `seconds`.

Every attempt counts, refused or not: a client flooding past a limit stays cut until it
slows down. An event is checked and counted against all of its counters at once, and a
batch of events (a stream's sends that arrived together) in one call, in order: with
Redis, one Lua script, so one round trip and atomic against every other web process,
on Redis's clock (the processes' clocks may differ).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache as once
from typing import Any

from django.conf import settings

PREFIX = "castcore:chat:rate:"


@dataclass(frozen=True)
class Window:
    count: int
    seconds: int


Counters = Sequence[tuple[str, Window]]

# KEYS: every counter of every event, in order. ARGV: a token that makes this call's
# entries unique, the number of events, then per event its number of counters, then per
# counter its count and window in microseconds. Returns per counter the microseconds to
# wait before an event would be within it again (0: this one was).
_SLIDING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local events = tonumber(ARGV[2])
local arg = 3 + events
local key = 1
local waits = {}
for event = 1, events do
  for _ = 1, tonumber(ARGV[2 + event]) do
    local count, window = tonumber(ARGV[arg]), tonumber(ARGV[arg + 1])
    local name = KEYS[key]
    redis.call('ZREMRANGEBYSCORE', name, '-inf', now - window)
    local over = redis.call('ZCARD', name) >= count
    redis.call('ZADD', name, now, ARGV[1] .. ':' .. key)
    redis.call('ZREMRANGEBYRANK', name, 0, -(count + 1))
    redis.call('PEXPIRE', name, math.floor(window / 1000) + 1000)
    local wait = 0
    if over then
      local oldest = redis.call('ZRANGE', name, 0, 0, 'WITHSCORES')
      wait = math.max(1, tonumber(oldest[2]) + window - now)
    end
    waits[key] = wait
    arg = arg + 2
    key = key + 1
  end
end
return waits
"""


@once
def _script() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL).register_script(_SLIDING)


def _name(key: str, window: Window) -> str:
    # The limit is in the name: two limits on one key (5/3 and 30/60) keep separate times.
    return f"{PREFIX}{key}:{window.count}/{window.seconds}"


def _seconds(wait_us: float) -> int:
    """A wait as the whole seconds a client is told (at least 1, rounded up)."""
    return max(1, -(-int(wait_us) // 1_000_000))


def hit(counters: Counters) -> list[int]:
    """Count one event against each (key, window); the seconds to wait for each one over."""
    return hit_many([counters])[0]


def hit_many(events: Sequence[Counters]) -> list[list[int]]:
    """`hit` for several events, in order, in one round trip (each one counts for the next)."""
    if not any(events):
        return [[] for _ in events]
    if settings.REDIS_URL:
        keys = [_name(key, window) for counters in events for key, window in counters]
        argv: list[Any] = [os.urandom(8).hex(), len(events), *(len(c) for c in events)]
        for counters in events:
            for _, window in counters:
                argv += [window.count, window.seconds * 1_000_000]
        waits: list[float] = [int(wait) for wait in _script()(keys=keys, args=argv)]
    else:
        waits = _local.hit([(_name(k, w), w) for counters in events for k, w in counters])
    found: list[list[int]] = []
    at = 0
    for counters in events:
        found.append([_seconds(wait) for wait in waits[at : at + len(counters)] if wait])
        at += len(counters)
    return found


class _LocalTimes:
    """The same rule in this process (embedded mode: one web process), under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, tuple[Window, deque[float]]] = {}

    def hit(self, counters: Sequence[tuple[str, Window]]) -> list[float]:
        waits: list[float] = []
        with self.lock:
            now = time.monotonic()
            if len(self.times) > 10_000:
                self._forget_idle(now)
            for name, window in counters:
                _, times = self.times.setdefault(name, (window, deque(maxlen=window.count)))
                while times and times[0] <= now - window.seconds:
                    times.popleft()
                over = len(times) >= window.count
                times.append(now)  # the deque keeps the newest `count`
                waits.append((times[0] + window.seconds - now) * 1_000_000 if over else 0)
        return waits

    def _forget_idle(self, now: float) -> None:
        # A counter whose newest event is older than its window holds nothing.
        idle = [
            name
            for name, (window, times) in self.times.items()
            if not times or times[-1] <= now - window.seconds
        ]
        for name in idle:
            del self.times[name]

    def clear(self) -> None:
        with self.lock:
            self.times.clear()


_local = _LocalTimes()


def forget() -> None:
    """Forget every counter (tests: no test inherits another's counts)."""
    _local.clear()
    if settings.REDIS_URL:
        client = _script().registered_client
        for name in client.scan_iter(match=f"{PREFIX}*", count=1000):
            client.delete(name)
