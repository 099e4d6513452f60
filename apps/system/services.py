"""Writes of the system app: worker heartbeats and global settings."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from django.utils import timezone

from apps.system.models import WorkerHeartbeat


def worker_heartbeat_record(
    *, hostname: str, queues: list[str], embedded: bool, started_at: datetime
) -> None:
    """Upsert this worker's heartbeat row; called on a timer inside the worker."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": os.getpid(),
            "queues": sorted(queues),
            "embedded": embedded,
            "started_at": started_at,
            "last_seen": now,
        },
    )


def default_hostname(prefix: str = "celery") -> str:
    return f"{prefix}@{socket.gethostname()}"
