"""What a supervised run tells live viewers: progress, ffmpeg's log lines and its own.

Called from ffmpeg's reader threads: these only record and hand events to the
bridge, never touch the database (a blocked reader would stall ffmpeg itself).
With a disk quota or the free-space floor they also measure the job's own files and the
free space where it writes (a stat each, quota.RunBudget) and wake the supervisor's
thread, which ends the run.
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
from apps.streams.quota import Breach, RunBudget
from apps.streams.runtime.bridge import ChannelBridge
from apps.streams.status import status_payload
from workers.ffmpeg.bitrate import BitrateMeter
from workers.ffmpeg.logs import LogEvent
from workers.ffmpeg.progress import Progress

# Figures a status shows as soon as ffmpeg knows them.
LIVE_FIGURES = ("fps", "bitrate_kbps", "speed")


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
    wake: threading.Event
    budget: RunBudget
    over_quota: Breach | None
    meter: BitrateMeter | None  # the bitrate of the current process (bitrate.py's rule)
    shown: dict[str, Any]  # the figures last published
    latest: dict[str, Any]  # the figures of the latest block

    def stats(self) -> dict[str, Any]:
        """The figures last published: the run row stores these, so that the REST status
        and /metrics show what the status sockets were sent. They outlive the process
        that reported them: a run that ended, or waits to reconnect, keeps its last ones."""
        return self.shown

    def _figures(self, progress: Progress) -> dict[str, Any]:
        meter = self.meter
        return {
            "fps": progress.fps,
            "bitrate_kbps": meter.bitrate_kbps(progress) if meter is not None else None,
            "bitrate_source": meter.source.value if meter is not None else None,
            "speed": progress.speed,
            "frames": progress.frame,
            "drops": progress.drop_frames,
            "out_time_s": progress.out_time_s,
        }

    # ----------------------------------------------------------- callbacks (reader threads)

    def _on_progress(self, progress: Progress) -> None:
        # A process's first block goes out at once (_spawn resets the clock), and so does
        # one that knows a figure the last one sent did not (ffmpeg's first block has no
        # bitrate); the rest at most every PROGRESS_INTERVAL_SECONDS.
        self.progress = progress
        figures = self.latest = self._figures(progress)
        if self.budget.active and self.over_quota is None:
            self.over_quota = self.budget.check()
            if self.over_quota is not None:
                self.wake.set()  # the supervisor's thread ends the run
        news = any(figures[k] is not None and self.shown.get(k) is None for k in LIVE_FIGURES)
        now = time.monotonic()
        if news or now - self._last_status_at >= conf.PROGRESS_INTERVAL_SECONDS:
            self._last_status_at = now
            self.shown = figures
            self._publish_status(JobState.RUNNING)
            if news:
                self.wake.set()  # store them now, not at the next heartbeat

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
