"""Owncast's hardware stats: CPU, memory and disk use of this host, sampled over time.

Owncast samples once a minute for as long as it runs. CastCore keeps the samples in the
cache (Redis when distributed, so every web process answers the same series): each call
adds one when the last is a minute old, and the last hour is kept.
"""

from __future__ import annotations

from typing import Any

import psutil
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

CACHE_KEY = "castcore:owncast:hardware"
SAMPLE_SECONDS = 60
KEEP = 60  # samples: an hour


def sample() -> dict[str, Any]:
    """One reading: percentages, as Owncast reports them (CPU over the last call's interval)."""
    return {
        "time": timezone.now().isoformat().replace("+00:00", "Z"),
        "at": timezone.now().timestamp(),
        "cpu": round(psutil.cpu_percent(interval=None)),
        "memory": round(psutil.virtual_memory().percent),
        "disk": round(psutil.disk_usage(str(settings.VAR_DIR)).percent),
    }


def hardware_stats() -> dict[str, list[dict[str, Any]]]:
    """`{cpu, memory, disk}`, each `[{time, value}]`, oldest first; the newest is now's."""
    samples: list[dict[str, Any]] = list(cache.get(CACHE_KEY) or [])
    now = sample()
    if not samples or now["at"] - samples[-1]["at"] >= SAMPLE_SECONDS:
        samples = [*samples, now][-KEEP:]
        cache.set(CACHE_KEY, samples, timeout=KEEP * SAMPLE_SECONDS * 2)
        shown = samples
    else:
        shown = [*samples[:-1], now]  # the last minute's sample, as it is now
    return {
        name: [{"time": item["time"], "value": item[name]} for item in shown]
        for name in ("cpu", "memory", "disk")
    }
