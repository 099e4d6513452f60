"""Supervise one stream run inside a Celery worker: spawn, watch, reconnect, obey control.

The loop runs on the task's thread. ffmpeg's reader threads only record
progress and log lines and hand events to the bridge; every database write
happens here, on heartbeats (a few seconds apart) and at state changes.

A worker asked to stop (SIGTERM from docker or systemd) cannot wait for its runs
to end: they last for hours. Its warm shutdown calls `hand_over_runs()`
(castcore.celery.StreamHandoverStep): each run stops its ffmpeg as an operator's
stop would (SIGINT, then SIGKILL after the grace), ends with exit reason
`handover`, and a new run of the job is dispatched at once (reconcile.hand_over_run)
for another worker, or this one after its restart, to take.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from apps.streams import conf
from apps.streams.events import (
    control_group,
)
from apps.streams.media_inputs import url_credentials
from apps.streams.models import (
    ACTIVE_RUN_STATES,
    SEEKABLE_INPUT_KINDS,
    DesiredState,
    ExitReason,
    JobState,
    RunState,
    StreamJob,
    StreamRun,
)
from apps.streams.quota import Breach, RunBudget
from apps.streams.runtime import lease
from apps.streams.runtime.bridge import ChannelBridge
from apps.streams.runtime.live import LiveEvents
from apps.streams.runtime.reconcile import hand_over_run
from apps.streams.runtime.recording import finish_recording
from apps.streams.runtime.workdir import (
    prepare_output_dirs,
    recording_path,
    remove_run_workdir,
    run_workdir,
)
from apps.streams.specs import job_spec_for
from castcore.secrets import remember
from castcore.stopping import mark_worker_started, mark_worker_stopping, worker_stopping
from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.backoff import ReconnectPolicy
from workers.ffmpeg.bitrate import BitrateMeter
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.logs import LogSides
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.spec import FileInput, InputNotReady, PlaylistInput, SpecError
from workers.ffmpeg.supervisor import ExitInfo, FFmpegProcess
from workers.ffmpeg.supervisor import ExitReason as ProcessExit

logger = logging.getLogger(__name__)


@dataclass
class _Stop:
    """Why the loop ends, and what the job becomes."""

    reason: str
    job_state: str | None
    job_fields: dict[str, Any]


# Not an end: the recording toggle changed, or a respawn was asked for (stream_job_respawn),
# so ffmpeg restarts at once within the same run.
_RESPAWN = _Stop("respawn", None, {})
# A looping job's ffmpeg that played its input out ends by design (a channel's window: its
# spec does not loop, the job does): the next one starts at once (a channel's where the
# schedule is then), unless it ended this soon, which is a failure to retry with the
# reconnect policy's pauses rather than a loop of instant restarts.
LOOP_MIN_SECONDS = 5.0
# How often a run whose input is not ready yet (InputNotReady) builds it again (each
# time a heartbeat: a relay can wait long for a channel that does not play).
NOT_READY_POLL_SECONDS = 1.0

_supervisors: set[RunSupervisor] = set()  # the runs this process supervises now
_supervisors_lock = threading.Lock()


def hand_over_runs() -> int:
    """Tell every run of this process to stop ffmpeg and hand its job over; how many there are.

    Returns at once: each run does it on its own thread, within a stop's grace. Runs
    that start afterwards in this process hand over at once too (handing_over()).
    """
    mark_worker_stopping()
    with _supervisors_lock:
        supervisors = list(_supervisors)
    for supervisor in supervisors:
        supervisor.wake.set()
    return len(supervisors)


def handing_over() -> bool:
    """This worker process is stopping: its runs hand their jobs over (castcore.stopping)."""
    return worker_stopping()


def accept_runs() -> None:
    """A worker (re)started in this process: its runs stay until told otherwise."""
    mark_worker_started()


class RunSupervisor(LiveEvents):
    def __init__(self, run: StreamRun) -> None:
        self.run = run
        self.job: StreamJob = run.job
        self.wake = threading.Event()  # set by ffmpeg's exit and by control nudges
        self.tail: deque[dict[str, Any]] = deque(maxlen=conf.LOG_TAIL_LINES)
        self.progress: Progress | None = None
        self.shown: dict[str, Any] = {}
        self.latest: dict[str, Any] = {}
        self.meter: BitrateMeter | None = None
        self.budget = RunBudget(self.job)
        self.over_quota: Breach | None = None
        self.offset = run.start_offset_s  # input position where the current process began
        self.segment = 0
        self.process: FFmpegProcess | None = None
        self._tail_lock = threading.Lock()
        self._last_status_at = float("-inf")
        self._log_window = (0.0, 0)
        self.recording_path: Path | None = None
        self.recording_wanted = run.recording
        # The job's respawn request as last read (the claim read the row; then each beat).
        self.respawn_at: datetime | None = self.job.respawn_at
        # Only files can continue from a position: a file, a library item or folder read as files.
        self.seekable = self.job.input_kind in SEEKABLE_INPUT_KINDS
        self._last_beat_at = time.monotonic()
        self.bridge = ChannelBridge(
            listen_group=control_group(self.job.pk), on_message=lambda _: self.wake.set()
        )

    # ----------------------------------------------------------- entry point

    def execute(self) -> str:
        with _supervisors_lock:
            _supervisors.add(self)
        try:
            return self._execute()
        finally:
            with _supervisors_lock:
                _supervisors.discard(self)

    def _execute(self) -> str:
        try:
            stop = self._supervise()
        except Exception:
            logger.exception("stream run %s crashed", self.run.pk)
            self._log_line("error", "CastCore could not supervise this run; see the worker log.")
            stop = _Stop(ExitReason.ERROR, JobState.FAILED, {"desired_state": DesiredState.STOPPED})
        finally:
            if self.process is not None and self.process.is_running():
                self.process.kill()  # never leave an ffmpeg behind, whatever happened
            self._finish_segment_recording()  # a crash mid-process still hands its file over
        self._finish(stop)
        remove_run_workdir(self.job.pk, self.run.number)
        self.bridge.stop()
        return stop.reason

    # ----------------------------------------------------------- main loop

    def _supervise(self) -> _Stop:
        # The claim just read the job row (token, desired state, recording): unless we had
        # to wait for a predecessor, the first spawn needs no heartbeat and no re-read.
        fresh = not self._wait_for_predecessors()
        policy = ReconnectPolicy(
            max_attempts=self.job.reconnect_max_attempts,
            base_seconds=self.job.reconnect_base_seconds,
            cap_seconds=self.job.reconnect_cap_seconds,
            jitter_fraction=self.job.reconnect_jitter,
        )
        attempt = self.run.reconnect_attempts  # carried over when the reconciler restarted us
        waiting = False  # an InputNotReady was logged; said once per wait
        while True:
            control = self._quota() if fresh else self._control()
            if control is not None:
                return control
            try:
                process = self._spawn(reread_job=not fresh)
                fresh = False
            except InputNotReady as exc:
                # Nothing to read yet, nothing wrong: wait (heartbeating, listening for a
                # stop) and build the input again. Not a reconnect: no attempt counted.
                if not waiting:
                    self._log_line("info", f"Waiting for the input: {exc.code} {exc.params}")
                waiting, fresh = True, False
                control = self._sleep(NOT_READY_POLL_SECONDS)
                if control is not None:
                    return control
                continue
            except SpecError as exc:
                self._log_line(
                    "error", f"The job cannot run: {exc.code} {exc.params}", hint_code=exc.code
                )
                return _Stop(
                    ExitReason.ERROR, JobState.FAILED, {"desired_state": DesiredState.STOPPED}
                )
            waiting = False
            control = self._watch(process)
            info = process.wait()
            self._advance_offset()
            self._finish_segment_recording()
            if control is _RESPAWN:
                continue
            if control is not None:
                return control
            if info.reason is ProcessExit.COMPLETED and not self.job.loop:
                return _Stop(ExitReason.COMPLETED, JobState.STOPPED, self._stopped_fields())
            if (
                info.reason is ProcessExit.COMPLETED
                and info.duration_s >= LOOP_MIN_SECONDS
                and not handing_over()
            ):
                continue  # its input played out: no reconnect state, no pause, no count
            if handing_over():
                # Whatever ended ffmpeg (systemd's SIGTERM reaches the whole worker's
                # cgroup), the worker is stopping: hand the job over, count no failure.
                return _Stop(ExitReason.HANDOVER, None, {})
            attempt = lease.attempts_used(attempts=attempt, healthy_for_s=info.duration_s)
            if not policy.should_retry(attempt):
                self._log_line("error", f"Giving up after {attempt} reconnect attempts.")
                return _Stop(
                    ExitReason.FAILED, JobState.FAILED, {"desired_state": DesiredState.STOPPED}
                )
            delay = policy.delay(attempt)
            attempt += 1
            self.run.reconnect_count += 1
            self.run.reconnect_attempts = attempt
            self._log_line(
                "warning", f"ffmpeg {info.reason.value}; reconnect {attempt} in {delay:.1f} s."
            )
            lease.set_run_state(
                run=self.run,
                state=RunState.RECONNECTING,
                reconnect_count=self.run.reconnect_count,
                reconnect_attempts=attempt,
                process_started_at=None,
            )
            lease.set_job_state(
                run=self.run,
                state=JobState.RECONNECTING,
                from_states=(JobState.RUNNING, JobState.STARTING),
            )
            self._publish_status(JobState.RECONNECTING)
            control = self._sleep(delay)
            if control is not None:
                return control

    def _spawn(self, *, reread_job: bool = True) -> FFmpegProcess:
        if reread_job:
            lease.retry_locked(self.job.refresh_from_db)(fields=["recording_enabled"])
        self.recording_wanted = self.job.recording_enabled
        if self.respawn_at is not None:
            # This ffmpeg reads the input as it is from now on: it answers the request.
            lease.respawn_answered(run=self.run)
            self.respawn_at = None
        self.segment += 1
        workdir = run_workdir(self.job.pk, self.run.number)
        recording = recording_path(workdir, self.segment) if self.job.recording_enabled else None
        self.recording_path = recording
        spec = job_spec_for(
            self.job,
            workdir=workdir,
            start_offset=self.offset,
            recording_path=recording,
            for_run=True,
        )
        self.seekable = self.seekable and isinstance(spec.input, FileInput | PlaylistInput)
        meter = self.meter = BitrateMeter(spec)
        secrets = (*spec.secrets(), *url_credentials(spec.input))
        for secret in secrets:
            remember(secret)
        for problem in prepare_output_dirs(spec):
            self._log_line("error", f"Output folder could not be prepared: {problem}")
        argv = build_argv(spec, workdir, ffmpeg=getattr(settings, "FFMPEG_BINARY", "ffmpeg"))
        self.progress = None
        self._last_status_at = float("-inf")  # this process's first progress goes out at once
        process = FFmpegProcess(
            argv,
            on_progress=self._on_progress,
            on_log=self._on_log,
            on_video_stats=meter.on_video_stats if meter.wants_video_stats else None,
            stall_timeout=spec.stall_timeout_s,  # ffmpeg's own timeout is longer (argv)
            stop_grace_seconds=conf.STOP_GRACE_SECONDS,
            tail_lines=conf.LOG_TAIL_LINES,
            secrets=secrets,
            cwd=str(workdir),
            confinement=confinement_for(spec, workdir),
            sides=LogSides.for_spec(spec, workdir),
        )
        process.start()
        self.process = process
        # Listen for control nudges once the first ffmpeg is on its way, not before: the
        # subscription's Redis round trips then overlap ffmpeg's own start instead of
        # delaying it. Nothing is missed: once listening, the run reads its row.
        self.bridge.start()  # once; later spawns find it listening
        self.run.pid = process.pid
        self.run.pgid = process.pgid
        lease.set_run_state(
            run=self.run,
            state=RunState.RUNNING,
            pid=process.pid,
            pgid=process.pgid,
            recording=recording is not None,
            process_started_at=timezone.now(),
        )
        lease.set_job_state(
            run=self.run,
            state=JobState.RUNNING,
            from_states=(JobState.STARTING, JobState.RECONNECTING),
        )
        self._publish_status(JobState.RUNNING)
        threading.Thread(target=self._wake_on_exit, args=(process,), daemon=True).start()
        return process

    def _wake_on_exit(self, process: FFmpegProcess) -> None:
        process.wait()
        self.wake.set()

    def _watch(self, process: FFmpegProcess) -> _Stop | None:
        """Heartbeat until ffmpeg exits or the operator/lease says stop; returns that verdict."""
        while process.is_running():
            self.wake.wait(self._respawn_wait(conf.HEARTBEAT_SECONDS))
            self.wake.clear()
            if not process.is_running():
                return None
            control = self._control()
            if control is None and self._respawn_due():
                self._log_line("info", "Restarting ffmpeg as asked: its input goes on from here.")
                process.stop()
                return _RESPAWN
            if control is None and self.recording_wanted != (self.recording_path is not None):
                # The file can only start or end with a process: restart ffmpeg now, in
                # this run (a file input continues from its position), with or without it.
                state = "on" if self.recording_wanted else "off"
                self._log_line("info", f"Recording turned {state}: restarting ffmpeg.")
                process.stop()
                return _RESPAWN
            if control is None:
                continue
            if control.reason == ExitReason.LEASE_LOST:
                process.kill()  # someone else may own the job now: no grace
            else:
                process.stop()  # SIGINT so files and trailers are finalised, then kill
            return control
        return None

    def _respawn_wait(self, seconds: float) -> float:
        """How long to wait for the next look: less when a respawn falls due sooner."""
        if self.respawn_at is None:
            return seconds
        return max(0.0, min(seconds, (self.respawn_at - timezone.now()).total_seconds()))

    def _respawn_due(self) -> bool:
        return self.respawn_at is not None and self.respawn_at <= timezone.now()

    def _sleep(self, seconds: float) -> _Stop | None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.wake.wait(min(left, conf.HEARTBEAT_SECONDS))
            self.wake.clear()
            control = self._control()
            if control is not None:
                return control
        return None

    # ----------------------------------------------------------- control

    def _control(self) -> _Stop | None:
        """Heartbeat the lease and turn the row's verdict into a stop reason, or None."""
        close_old_connections()
        try:
            beat = lease.heartbeat(run=self.run, fields=self._live_fields())
        except DatabaseError:
            # A database blip is survivable until the lease would have expired anyway;
            # past that, another worker may own the job, so this one must stop.
            if handing_over():
                # Stop ffmpeg now all the same: the worker is going, and the run's lease
                # expires for the reconciler if the hand-over cannot be written either.
                return _Stop(ExitReason.HANDOVER, None, {})
            if time.monotonic() - self._last_beat_at < conf.LEASE_SECONDS:
                logger.warning("heartbeat of run %s failed; retrying", self.run.pk, exc_info=True)
                return None
            return _Stop(ExitReason.LEASE_LOST, None, {})
        self._last_beat_at = time.monotonic()
        self.recording_wanted = beat.recording
        self.respawn_at = beat.respawn_at
        if not beat.owned:
            self._log_line("error", "This worker lost the run's lease; ffmpeg was stopped.")
            return _Stop(ExitReason.LEASE_LOST, None, {})
        if beat.superseded:
            return _Stop(ExitReason.SUPERSEDED, None, {})
        if beat.desired_state == DesiredState.STOPPED:
            return _Stop(ExitReason.STOPPED, JobState.STOPPED, self._stopped_fields())
        if beat.desired_state == DesiredState.PAUSED:
            return _Stop(ExitReason.PAUSED, JobState.PAUSED, {})
        if handing_over():  # after the operator's wishes: a job asked to stop just stops
            return _Stop(ExitReason.HANDOVER, None, {})
        return self._quota()

    def _quota(self) -> _Stop | None:
        """End the run once the job's or the instance's disk quota is reached, or the free
        space where it writes falls below the floor."""
        self.budget.refresh()
        breach = self.over_quota or self.budget.check()
        if breach is None:
            return None
        self._log_line(
            "error",
            f"{breach.describe()}; ffmpeg was stopped.",
            hint_code="stream_job.quota_exceeded",
        )
        return _Stop(
            ExitReason.QUOTA_EXCEEDED, JobState.FAILED, {"desired_state": DesiredState.STOPPED}
        )

    def _wait_for_predecessors(self) -> bool:
        """After a restart, let the previous run's ffmpeg finish so two never publish at once.

        True if there was one to wait for. The claim already looked (run.predecessor_active).
        """
        if not self.run.predecessor_active:
            return False
        deadline = time.monotonic() + conf.STOP_GRACE_SECONDS + conf.LEASE_SECONDS + 5
        while time.monotonic() < deadline and not handing_over():
            busy = lease.retry_locked(
                StreamRun.objects.filter(
                    job_id=self.job.pk,
                    fencing_token__lt=self.run.fencing_token,
                    state__in=ACTIVE_RUN_STATES,
                    lease_expires_at__gt=timezone.now(),
                ).exists
            )()
            if not busy:
                return True
            lease.heartbeat(run=self.run)
            time.sleep(0.2)
        return True

    def _finish(self, stop: _Stop) -> None:
        close_old_connections()
        self.shown = self.latest or self.shown  # the run keeps the figures it ended with
        if stop.reason == ExitReason.HANDOVER:
            try:
                hand_over_run(run=self.run, exit_code=self._exit_code(), **self._live_fields())
            except DatabaseError:
                logger.warning(
                    "run %s could not be handed over; its lease will expire for the reconciler",
                    self.run.pk,
                    exc_info=True,
                )
            return
        if stop.reason == ExitReason.PAUSED:
            # Measured after ffmpeg stopped, so the resume point is where output really ended.
            stop.job_fields["resume_position_s"] = self._position()
        lease.release(
            run=self.run,
            exit_reason=stop.reason,
            job_state=stop.job_state,
            job_fields=stop.job_fields,
            exit_code=self._exit_code(),
            **self._live_fields(),
        )
        if stop.job_state is not None:
            lease.retry_locked(self.job.refresh_from_db)()
            if self.job.fencing_token == self.run.fencing_token:
                self._publish_status(self.job.state)

    # ----------------------------------------------------------- figures

    def _played(self) -> float:
        """How far into the input the run got (the run's position_s), for every input."""
        out_time = self.progress.out_time_s if self.progress is not None else None
        return round(self.offset + max(out_time or 0.0, 0.0), 3)

    def _position(self) -> float:
        """Where a paused job resumes; only a file input can continue from there."""
        return self._played() if self.seekable else 0.0

    def _advance_offset(self) -> None:
        # A reconnect of a file input continues where the last process got to; other
        # inputs start where they are (job_spec_for ignores the offset), the count goes on.
        self.offset = self._played()
        self.progress = None

    def _stopped_fields(self) -> dict[str, Any]:
        return {"desired_state": DesiredState.STOPPED, "resume_position_s": 0.0}

    def _exit_code(self) -> int | None:
        if self.process is None or self.process.is_running():
            return None
        info: ExitInfo = self.process.wait()
        return info.returncode

    def _live_fields(self) -> dict[str, Any]:
        with self._tail_lock:
            tail = list(self.tail)
        return {
            "last_stats": self.stats(),
            "log_tail": tail,
            "position_s": self._played(),
            "reconnect_count": self.run.reconnect_count,
        }

    def _finish_segment_recording(self) -> None:
        path, self.recording_path = self.recording_path, None
        if path is not None:
            finish_recording(job=self.job, run=self.run, path=path)


def run_stream(*, run_id: int, token: int, worker: str) -> str:
    """Claim run `run_id` with `token` and supervise it until it ends; returns the exit reason."""
    run = lease.claim(run_id=run_id, token=token, worker=worker)
    if run is None:
        logger.info("stream run %s (token %s) was not claimable; nothing to do", run_id, token)
        return "not_claimed"
    return RunSupervisor(run).execute()
