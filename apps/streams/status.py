"""A job's live status (state, progress figures, health) for the API, WebSockets and events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.streams.events import StreamStatusEvent
from apps.streams.models import (
    ACTIVE_JOB_STATES,
    ACTIVE_RUN_STATES,
    InputKind,
    JobState,
    RunState,
    StreamJob,
    StreamRun,
)
from workers.ffmpeg.bitrate import expected_kbps
from workers.ffmpeg.health import HealthInputs, health_score
from workers.ffmpeg.health import RunState as HealthState  # the engine's, not the run row's

LIVE_STATES = frozenset(ACTIVE_JOB_STATES)

_HEALTH_STATE = {
    JobState.STARTING: HealthState.STARTING,
    JobState.RUNNING: HealthState.RUNNING,
    JobState.RECONNECTING: HealthState.RECONNECTING,
    JobState.FAILED: HealthState.FAILED,
    JobState.LOST: HealthState.FAILED,  # nothing known to run: as bad as it gets until settled
}


def lease_lost(job_state: str, lease_expires_at: datetime | None) -> bool:
    """Whether a job the row says a worker runs has a run whose lease already expired.

    The worker stopped renewing it (killed, host lost) and no reconciler has taken the
    run back yet, perhaps because none is alive: the same test the reconciler makes.
    """
    return (
        job_state in LIVE_STATES
        and lease_expires_at is not None
        and lease_expires_at < timezone.now()
    )


def reported_state(job: StreamJob, run: StreamRun | None) -> str:
    """The job's state as the API, its sockets and events report it: the row's, or `lost`.

    `run` is the job's current run (the one holding its fencing token), as loaded.
    """
    if (
        run is not None
        and run.state in ACTIVE_RUN_STATES
        and lease_lost(job.state, run.lease_expires_at)
    ):
        return JobState.LOST
    return job.state


def run_reported_state(run: StreamRun) -> str:
    """A run's state as the API reports it: `lost` for the job's current run when the job is
    reported lost (reported_state), the row's otherwise. `run.job` is read as loaded (a job's
    `runs` set it without a query)."""
    job = run.job
    if run.fencing_token == job.fencing_token and reported_state(job, run) == JobState.LOST:
        return RunState.LOST
    return run.state


def _target_fps(job: StreamJob) -> float | None:
    if job.profile.fps:
        return float(job.profile.fps)
    if job.input_kind == InputKind.TEST_PATTERN:
        return float(job.input_rate)
    return None  # unknown for files and URLs until probed; health ignores fps then


def health_for(job: StreamJob, state: str, stats: Mapping[str, Any], reconnects: int) -> int:
    health_state = _HEALTH_STATE.get(JobState(state), HealthState.STOPPED)
    profile = job.profile
    target_kbps = None
    if (
        profile.video_codec != "copy"
        and profile.rate_control != "crf"
        and profile.video_bitrate_kbps
    ):
        target_kbps = expected_kbps(
            stats.get("bitrate_source"),
            video_kbps=profile.video_bitrate_kbps,
            audio_kbps=profile.audio_bitrate_kbps or 0,
        )
    return health_score(
        HealthInputs(
            state=health_state,
            speed=stats.get("speed"),
            fps=stats.get("fps"),
            target_fps=_target_fps(job),
            drop_frames=stats.get("drops"),
            total_frames=stats.get("frames"),
            recent_reconnects=reconnects,
            bitrate_kbps=stats.get("bitrate_kbps"),
            target_bitrate_kbps=target_kbps,
        )
    )


def job_reported_state(job: StreamJob) -> str:
    """reported_state of a job as an API row shows it, from the lease its list annotated.

    A list annotates each job with its current run's lease (selectors.with_current_lease);
    a job loaded otherwise that a worker should be running reads its current run.
    """
    if hasattr(job, "current_lease_expires_at"):
        expires = job.current_lease_expires_at
    elif job.state in LIVE_STATES:
        run = job.current_run
        expires = run.lease_expires_at if run and run.state in ACTIVE_RUN_STATES else None
    else:
        return job.state
    return JobState.LOST if lease_lost(job.state, expires) else job.state


def status_payload(
    job: StreamJob,
    run: StreamRun | None,
    stats: Mapping[str, Any] | None = None,
    *,
    state: str | None = None,
) -> StreamStatusEvent:
    """Status of `job`; `stats` (live progress) defaults to the run's last stored figures.

    A run that ended keeps showing the figures it ended with, next to the job's state.
    `state` (a worker's, as it publishes) defaults to the reported state: a lost run has
    no live figures, uptime or reconnects to show.
    """
    state = state or reported_state(job, run)
    active = run is not None and state in LIVE_STATES
    figures: Mapping[str, Any] = {}
    if run is not None and state != JobState.LOST:  # a lost run's figures are not known now
        figures = stats if stats is not None else run.last_stats
    reconnects = run.reconnect_count if run is not None and active else 0
    uptime = None
    if active and run is not None and run.started_at is not None:
        uptime = round((timezone.now() - run.started_at).total_seconds(), 1)
    return {
        "type": "stream.status",
        "job_id": job.pk,
        "run_id": run.pk if run is not None else None,
        "at": timezone.now().isoformat(),
        "state": state,
        "fps": figures.get("fps"),
        "bitrate_kbps": figures.get("bitrate_kbps"),
        "speed": figures.get("speed"),
        "frames": figures.get("frames"),
        "drops": figures.get("drops"),
        "out_time_s": figures.get("out_time_s"),
        "reconnects": reconnects,
        "health": health_for(job, state, figures, reconnects),
        "uptime_s": uptime,
    }


def status_event(job: StreamJob) -> StreamStatusEvent:
    return status_payload(job, job.current_run)
