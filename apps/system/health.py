"""Health checks for GET /api/v1/system/health: each returns (ok, detail, warning)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.system import conf
from apps.system.models import WorkerHeartbeat
from castcore.events import release_channel
from workers.ffmpeg import confine
from workers.ffmpeg.preflight import PreflightOptions, Status
from workers.ffmpeg.preflight.targets import check_disk as preflight_disk
from workers.ffmpeg.probe import run_bounded

CHECK_TIMEOUT_SECONDS = 3.0
_FFMPEG_CACHE_SECONDS = 60.0
_ffmpeg_cache: dict[str, tuple[float, str]] = {}


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: dict[str, Any]
    warning: bool = False  # working, but needs attention soon: still a 200


def check_database() -> CheckResult:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return CheckResult(True, {"vendor": connection.vendor})


async def _layer_roundtrip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("health.")
    nonce = secrets.token_hex(8)
    try:
        await layer.send(channel, {"type": "health.ping", "nonce": nonce})
        message = await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)
    finally:
        await release_channel(layer, channel)
    if message.get("nonce") != nonce:
        raise RuntimeError("channel layer returned a different message")


def check_channel_layer() -> CheckResult:
    async_to_sync(_layer_roundtrip)()
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1]
    return CheckResult(True, {"backend": backend})


def check_broker() -> CheckResult:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
        return CheckResult(True, {"transport": "redis"})
    queue_dir = settings.BROKER_DIR / "queue"
    probe = queue_dir / f".health-{secrets.token_hex(4)}"
    probe.write_bytes(b"")
    probe.unlink()
    return CheckResult(True, {"transport": "filesystem"})


def check_workers() -> CheckResult:
    since = timezone.now() - timedelta(seconds=settings.WORKER_SEEN_SECONDS)
    seen = list(
        WorkerHeartbeat.objects.filter(last_seen__gte=since).values(
            "hostname", "queues", "last_seen"
        )
    )
    return CheckResult(
        bool(seen),
        {"seen": len(seen), "workers": seen, "window_seconds": settings.WORKER_SEEN_SECONDS},
    )


def ffmpeg_version() -> str:
    """First line of `ffmpeg -version`, cached for a minute."""
    binary = settings.FFMPEG_BINARY
    now = time.monotonic()
    cached = _ffmpeg_cache.get(binary)
    if cached is not None and cached[0] + _FFMPEG_CACHE_SECONDS > now:
        return cached[1]
    argv = [binary, "-hide_banner", "-version"]
    rc, out, err = run_bounded(argv, timeout=CHECK_TIMEOUT_SECONDS)  # confined, as every ffmpeg
    if rc != 0:
        raise subprocess.CalledProcessError(rc, argv, out, err)
    stdout = out.decode("utf-8", "replace")
    version = stdout.splitlines()[0] if stdout else "unknown"
    _ffmpeg_cache[binary] = (now, version)
    return version


def check_ffmpeg() -> CheckResult:
    return CheckResult(True, {"version": ffmpeg_version()})


def disk_folders(threshold: int) -> list[dict[str, Any]]:
    """Free space of every filesystem CastCore writes to (VAR_DIR, the media root, the
    output roots): the preflight's disk check with one level, below `threshold` is low."""
    from apps.streams.quota import written_folders

    folders = [str(settings.VAR_DIR), *written_folders()]
    options = PreflightOptions(disk_red_bytes=0, disk_yellow_bytes=threshold)
    found = [check.to_dict() for check in preflight_disk(folders, options)]
    return [
        {"code": check["code"], "low": check["status"] != Status.GREEN, **check["params"]}
        for check in found
    ]


def check_disk() -> CheckResult:
    """Free space where recordings and outputs go; below the threshold is a warning.

    Only reported here: the periodic check (apps.system.services.disk_space_watch)
    announces a low disk, whether or not anyone reads this endpoint.
    """
    threshold = conf.HEALTH_MIN_FREE_MB * 1024 * 1024
    folders = disk_folders(threshold)
    detail = {
        "min_free_bytes": threshold,
        "folders": [{k: v for k, v in f.items() if k != "low"} for f in folders],
    }
    return CheckResult(True, detail, warning=any(f["low"] for f in folders))


def check_confinement() -> CheckResult:
    """Whether this host's kernel confines ffmpeg and ffprobe (Landlock, workers/ffmpeg/confine.py).

    Without it they still run, but a crafted playlist or symlink is stopped only by the
    demuxer whitelists: a warning makes that visible, and the server (which works)
    stays in its load balancer.
    """
    state = confine.status()
    return CheckResult(True, state, warning=not state["confined"])


def check_nginx_rtmp() -> CheckResult:
    """RTMP ingest: nginx-rtmp installed (embedded mode) and answering. Down or missing is a
    warning: the API and playback work without it, publishing does not (detail says so)."""
    from apps.streams.live.nginx import nginx_rtmp_health

    up, detail = nginx_rtmp_health()
    return CheckResult(True, detail, warning=not up)


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "workers": check_workers,
    "ffmpeg": check_ffmpeg,
    "disk": check_disk,
    "confinement": check_confinement,
    "nginx_rtmp": check_nginx_rtmp,
}


def run_checks() -> dict[str, CheckResult]:
    results: dict[str, CheckResult] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a failing part is a result, not a 500
            results[name] = CheckResult(False, {"error": type(exc).__name__})
    return results
