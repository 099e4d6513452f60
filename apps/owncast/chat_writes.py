"""A CHAT sent on an Owncast socket is in the next read of the stream's messages.

Owncast stores a message in its socket's read loop, so its clients (its own API tests
among them) send on the socket, close it and read `GET /api/admin/chat/messages` at once.
CastCore's socket checks a send (ban, modes, limits) and stores it with the other sends
of its stream (apps.chat.writer): tens of milliseconds later, on PostgreSQL, than an HTTP
read may arrive. So the socket counts its stream's sends in flight, from the moment it
reads the frame until the message is stored (or refused), and the reads of the stream's
messages (`/api/chat`, the admin's and the integrations' lists) wait, for WAIT_SECONDS at
most, until none is. The count is in the cache, which is Redis in the distributed mode:
a read on another web process waits too. A count left by a process that died expires
after TTL_SECONDS, so reads are slowed that long at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator

from django.core.cache import cache

TTL_SECONDS = 10
WAIT_SECONDS = 2.0
POLL_SECONDS = 0.01


def _key(stream_id: int) -> str:
    return f"owncast:chat-writes:{stream_id}"


def _begin(stream_id: int) -> None:
    key = _key(stream_id)
    cache.add(key, 0, TTL_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, TTL_SECONDS)
    cache.touch(key, TTL_SECONDS)


def _end(stream_id: int) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        if cache.decr(_key(stream_id)) < 0:
            cache.delete(_key(stream_id))


# This process's sends in flight, by stream: counted at once, before the cache's count
# (a round trip on a thread) is, so a read served by this process never misses one.
_here: Counter[int] = Counter()
_here_lock = threading.Lock()


def _count_here(stream_id: int, step: int) -> None:
    with _here_lock:
        _here[stream_id] += step
        if _here[stream_id] <= 0:
            del _here[stream_id]


@contextlib.asynccontextmanager
async def chat_write(stream_id: int) -> AsyncIterator[None]:
    """Count a socket's send on `stream_id` as in flight while the block runs."""
    _count_here(stream_id, 1)
    try:
        await asyncio.to_thread(_begin, stream_id)
        try:
            yield
        finally:
            await asyncio.to_thread(_end, stream_id)
    finally:
        _count_here(stream_id, -1)


def _in_flight(stream_id: int) -> bool:
    return _here.get(stream_id, 0) > 0 or (cache.get(_key(stream_id)) or 0) > 0


def chat_writes_settled(stream_id: int) -> None:
    """Return once no socket's send on the stream is in flight (WAIT_SECONDS at most)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while _in_flight(stream_id) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
