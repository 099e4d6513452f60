"""Live viewer counts: who fetched a stream's HLS or polled its page lately.

A viewer is one id, however it watches:
- the watch page sets a random id cookie (VIEWER_COOKIE); the page's own HLS
  fetches are same-origin and carry it, so page + segments is one viewer;
- a client without the cookie (VLC, ffplay, a smart TV) is a hash of its address
  and user agent, so two such players are two viewers, and one that reconnects
  stays one. (Two identical players behind one NAT count once: the price of not
  putting ids in playlist URLs, which players share and CDNs cache.)

A viewer stays counted until it has fetched nothing for two playlist windows
(the window the served playlist announces: target duration x its segments),
so a player that pauses or buffers is not dropped, and one that left is gone
within a minute at the slowest latency level.

Counts live in Redis when it is configured (every web process sees the same
viewers: one sorted set per stream, scored by last fetch) and in this process's
memory otherwise (the embedded mode is one process: web and worker).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from castcore.client_ip import client_ip

VIEWER_COOKIE = "cc_viewer"
VIEWER_COOKIE_MAX_AGE = 365 * 24 * 3600
# Until a playlist has been served: a low latency level's window (6 x 2 s).
DEFAULT_WINDOW_SECONDS = 12.0
# Bounds on what a playlist may make a window: a broken one (no segments, a target
# duration of an hour) neither drops viewers at once nor keeps them forever.
MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS = 4.0, 60.0
WINDOWS_TO_EXPIRE = 2
_KEY = "castcore:live-viewers:{}"
_WINDOW_KEY = "castcore:live-window:{}"
# Redis forgets a stream's set an hour after its last viewer.
_KEY_TTL = 3600


def new_viewer_cookie() -> str:
    return secrets.token_urlsafe(16)


def viewer_id(request: HttpRequest) -> str:
    """The id a request counts as: its viewer cookie, or its address and user agent."""
    cookie = request.COOKIES.get(VIEWER_COOKIE, "")
    if 16 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum():
        return "c:" + cookie
    agent = request.headers.get("User-Agent", "")[:512]
    digest = hashlib.sha256(f"{client_ip(request) or ''}\0{agent}".encode()).hexdigest()
    return "a:" + digest[:24]


class _Store(Protocol):
    def touch(self, stream_id: int, viewer: str, now: float) -> None: ...
    def count(self, stream_id: int, since: float) -> int: ...
    def set_window(self, stream_id: int, seconds: float) -> None: ...
    def window(self, stream_id: int) -> float | None: ...
    def clear(self) -> None: ...


class _MemoryStore:
    """The embedded mode's store: one process, one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[int, dict[str, float]] = {}
        self.windows: dict[int, float] = {}

    def touch(self, stream_id: int, viewer: str, now: float) -> None:
        with self.lock:
            self.seen.setdefault(stream_id, {})[viewer] = now

    def count(self, stream_id: int, since: float) -> int:
        with self.lock:
            viewers = self.seen.get(stream_id, {})
            for viewer in [v for v, at in viewers.items() if at < since]:
                del viewers[viewer]
            return len(viewers)

    def set_window(self, stream_id: int, seconds: float) -> None:
        self.windows[stream_id] = seconds

    def window(self, stream_id: int) -> float | None:
        return self.windows.get(stream_id)

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()
            self.windows.clear()


class _RedisStore:
    """The distributed mode's store: a sorted set per stream (viewer → last fetch)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url)

    def touch(self, stream_id: int, viewer: str, now: float) -> None:
        key = _KEY.format(stream_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {viewer: now})
        pipe.expire(key, _KEY_TTL)
        pipe.execute()

    def count(self, stream_id: int, since: float) -> int:
        key = _KEY.format(stream_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", f"({since}")
        pipe.zcard(key)
        return int(pipe.execute()[1])

    def set_window(self, stream_id: int, seconds: float) -> None:
        self.client.set(_WINDOW_KEY.format(stream_id), f"{seconds:.3f}", ex=_KEY_TTL)

    def window(self, stream_id: int) -> float | None:
        raw = self.client.get(_WINDOW_KEY.format(stream_id))
        return float(raw) if raw else None

    def clear(self) -> None:
        for pattern in (_KEY.format("*"), _WINDOW_KEY.format("*")):
            for key in self.client.scan_iter(pattern):
                self.client.delete(key)


_store: _Store | None = None
_store_lock = threading.Lock()


def store() -> _Store:
    global _store
    with _store_lock:
        if _store is None:
            _store = _RedisStore(settings.REDIS_URL) if settings.REDIS_URL else _MemoryStore()
        return _store


def viewer_seen(stream_id: int, viewer: str) -> None:
    """`viewer` fetched something of the stream now."""
    store().touch(stream_id, viewer, time.time())


def playlist_window_seen(stream_id: int, playlist: str) -> None:
    """Remember the window a media playlist announces: the counts' expiry follows it."""
    target, segments = 0.0, 0
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                target = float(line.partition(":")[2])
            except ValueError:
                return
        elif line.startswith("#EXTINF:"):
            segments += 1
    if target > 0 and segments:
        seconds = min(max(target * segments, MIN_WINDOW_SECONDS), MAX_WINDOW_SECONDS)
        if store().window(stream_id) != seconds:
            store().set_window(stream_id, seconds)


def viewer_count(stream_id: int) -> int:
    """How many viewers fetched something within the last WINDOWS_TO_EXPIRE windows."""
    window = store().window(stream_id) or DEFAULT_WINDOW_SECONDS
    return store().count(stream_id, time.time() - WINDOWS_TO_EXPIRE * window)


def viewer_counts(stream_ids: Iterable[int]) -> dict[int, int]:
    return {stream_id: viewer_count(stream_id) for stream_id in stream_ids}


def viewer_samples_record() -> int:
    """Sample the count of every stream with an open session into ViewerSample, and raise
    each open session's peak to it. Returns how many streams were sampled."""
    from apps.streams.live.models import LiveSession, ViewerSample

    now = timezone.now()
    sessions = list(LiveSession.objects.filter(ended_at__isnull=True).only("id", "stream_id"))
    samples = []
    for session in sessions:
        count = viewer_count(session.stream_id)
        samples.append(
            ViewerSample(stream_id=session.stream_id, session_id=session.pk, at=now, count=count)
        )
        if count:
            # Greatest in the UPDATE: a peak written meanwhile by another sampler stays.
            LiveSession.objects.filter(pk=session.pk).update(
                peak_viewers=Greatest(F("peak_viewers"), count)
            )
    ViewerSample.objects.bulk_create(samples)
    return len(samples)
