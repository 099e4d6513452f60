from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.utils import timezone


class RecordingsConfig(AppConfig):
    """Video and terminal recordings."""

    name = "apps.recordings"
    verbose_name = "Recordings"
    # When this process loaded Django: producer sockets attached before it are not ours.
    started_at: datetime

    def ready(self) -> None:
        from celery.signals import beat_init

        from apps.recordings.conf import STORAGE_DIR
        from castcore import managed

        # Recording files, checksummed in their rows: no stream job output may overwrite them.
        managed.register("recordings", lambda: [Path(settings.MEDIA_ROOT) / STORAGE_DIR])

        self.started_at = timezone.now()
        # Not beat_embedded_init: Celery's threaded beat (the embedded mode's) never sends it.
        beat_init.connect(self.reset_streams_at_start, weak=False)

    def reset_streams_at_start(self, sender: Any = None, **kwargs: Any) -> None:
        """In the embedded mode beat starts with the one web process, whose restart
        dropped every producer socket: streams still flagged live from before are not."""
        if not settings.EMBEDDED_WORKER:
            return  # distributed mode: beat's start is not a web process's start
        from castcore.celery import app

        app.send_task(
            "workers.recordings.reset_stale_streams",
            kwargs={"seen_before": self.started_at.isoformat()},
            queue="default",
        )
