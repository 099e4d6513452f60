"""What a supervised run tells live viewers: progress, ffmpeg's log lines and its own.

Called from ffmpeg's reader threads: these only record and hand events to the
bridge, never touch the database (a blocked reader would stall ffmpeg itself).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from django.utils import timezone

from apps.media.codes import EXPLANATIONS
from apps.streams import conf
from apps.streams.events import STATUS_GROUP, StreamLogEvent, job_status_group, logs_group
from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.runtime.bridge import ChannelBridge
from apps.streams.status import status_payload
from workers.ffmpeg.logs import LogEvent
from workers.ffmpeg.progress import Progress


class LiveEvents:
    """Mixed into RunSupervisor, which sets these attributes."""

    job: StreamJob
    run: StreamRun
    bridge: ChannelBridge
    progress: Progress | None
    tail: deque[dict[str, Any]]
    _tail_lock: threading.Lock
    _last_status_at: float
    _log_window: tuple[float, int]

    def stats(self) -> dict[str, Any]:
        p = self.progress
        if p is None:
            return {}
        return {
            "fps": p.fps,
            "bitrate_kbps": p.bitrate_kbps,
            "speed": p.speed,
            "frames": p.frame,
            "drops": p.drop_frames,
            "out_time_s": p.out_time_s,
        }

    # ----------------------------------------------------------- callbacks (reader threads)

    def _on_progress(self, progress: Progress) -> None:
        # A process's first block goes out at once (_spawn resets the clock); later
        # ones at most every PROGRESS_INTERVAL_SECONDS.
        self.progress = progress
        now = time.monotonic()
        if now - self._last_status_at >= conf.PROGRESS_INTERVAL_SECONDS:
            self._last_status_at = now
            self._publish_status(JobState.RUNNING)

    def _on_log(self, event: LogEvent) -> None:
        entry = {
            "level": event.level.value,
            "line": event.line,
            "hint_code": event.hint_code,
            "hint": event.hint,
        }
        with self._tail_lock:
            self.tail.append(entry)
        now = time.monotonic()
        window_start, count = self._log_window
        if now - window_start >= 1.0:
            window_start, count = now, 0
        self._log_window = (window_start, count + 1)
        if count >= conf.LOG_LINES_PER_SECOND:
            return  # the tail keeps the line; live viewers get at most N per second
        payload: StreamLogEvent = {
            "type": "stream.log",
            "job_id": self.job.pk,
            "run_id": self.run.pk,
            "at": timezone.now().isoformat(),
            "level": event.level.value,
            "message": event.message,
            "component": event.component,
            "hint_code": event.hint_code,
            "hint": event.hint,
            "line": event.line,
        }
        self.bridge.send_log(logs_group(self.job.pk), payload)

    def _log_line(self, level: str, message: str, hint_code: str | None = None) -> None:
        """A line of CastCore's own in the run log (reconnects, give-ups, lease loss)."""
        line = f"[castcore] [{level}] {message}"
        hint = EXPLANATIONS.get(hint_code) if hint_code else None
        with self._tail_lock:
            self.tail.append({"level": level, "line": line, "hint_code": hint_code, "hint": hint})
        payload: StreamLogEvent = {
            "type": "stream.log",
            "job_id": self.job.pk,
            "run_id": self.run.pk,
            "at": timezone.now().isoformat(),
            "level": level,
            "message": message,
            "component": "castcore",
            "hint_code": hint_code,
            "hint": hint,
            "line": line,
        }
        self.bridge.send_log(logs_group(self.job.pk), payload)

    def _publish_status(self, state: str) -> None:
        event = status_payload(self.job, self.run, self.stats(), state=state)
        self.bridge.send(STATUS_GROUP, event)
        self.bridge.send(job_status_group(self.job.pk), event)
