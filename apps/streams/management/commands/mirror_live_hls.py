"""manage.py mirror_live_hls: copy public live streams' HLS to the CDN bucket until stopped."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Copy the HLS of every public live stream written on this host to the S3 storage"
        " source CASTCORE_LIVE_S3_SOURCE names, as it is written, until SIGTERM or Ctrl-C."
        " Run it on each host whose workers run live transcodes."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.media.storage.base import StorageError
        from apps.streams.live.cdn import mirror_bucket, mirror_live_streams

        try:
            bucket = mirror_bucket()
        except (LookupError, StorageError) as exc:
            raise CommandError(str(exc)) from None
        if bucket is None:
            raise CommandError("CASTCORE_LIVE_S3_SOURCE is not set: there is no bucket to copy to")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("Mirroring live HLS (SIGTERM or Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            mirror_live_streams(bucket, stop)
        self.stdout.write("Stopped")
