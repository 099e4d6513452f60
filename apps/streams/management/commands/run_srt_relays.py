"""`manage.py run_srt_relays`: the SRT listeners of live streams (distributed mode).

Runs until stopped (SIGTERM/SIGINT), keeping one ffmpeg SRT listener per SRT-enabled
stream that relays to nginx-rtmp (apps/streams/live/srt.py). The embedded mode runs
the same in the web process.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from apps.streams.live.srt import SrtRelays


class Command(BaseCommand):
    help = "Run the SRT listeners of SRT-enabled live streams until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        relays = SrtRelays()
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        relays.start()
        self.stdout.write("SRT relays running")
        done.wait()
        relays.stop()
