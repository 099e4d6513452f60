"""Take back runs whose lease expired (worker killed, host lost) and settle their jobs.

Runs from beat every conf.RECONCILE_INTERVAL_SECONDS. A run is taken back
with a conditional update, so two reconcilers (or a late heartbeat) cannot
both act on it; the job then restarts per its reconnect policy or fails.

A run no worker claimed within conf.CLAIM_TIMEOUT_SECONDS (its message lost
with a wiped broker folder, or no worker consumes the ffmpeg queue) is sent
once more; if that one is not claimed either, the run and its job fail.

Run folders live on the disk of the worker that ran them, so the folders a dead
worker left are settled by the workers consuming the ffmpeg queue on that host
(sweep_run_workdirs, every interval from castcore.celery.RunFolderSweepStep),
not here: beat's reconciler may run on another host.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.streams import conf
from apps.streams.events import publish_status
from apps.streams.job_events import announce_job_state
from apps.streams.models import (
    ACTIVE_RUN_STATES,
    DesiredState,
    ExitReason,
    JobState,
    RunState,
    StreamJob,
    StreamRun,
)
from apps.streams.runtime import lease
from apps.streams.runtime.recording import finish_recording
from apps.streams.runtime.workdir import (
    existing_run_workdirs,
    last_written,
    recording_files,
    remove_run_workdir,
    sweep_lock,
)
from apps.streams.services.control import begin_run, dispatch_run
from apps.streams.status import status_event

logger = logging.getLogger(__name__)


@dataclass
class ReconcileResult:
    taken_back: list[int] = field(default_factory=list)  # run ids
    restarted: list[int] = field(default_factory=list)  # job ids
    failed: list[int] = field(default_factory=list)  # job ids
    redispatched: list[int] = field(default_factory=list)  # run ids sent again
    not_claimed: list[int] = field(default_factory=list)  # run ids no worker took


NOT_CLAIMED_HINT_CODE = "stream_job.not_claimed"
NOT_CLAIMED_HINT = "No worker took the job: is a worker consuming the ffmpeg queue?"


def reconcile_runs() -> ReconcileResult:
    result = ReconcileResult()
    now = timezone.now()
    expired = StreamRun.objects.filter(state__in=ACTIVE_RUN_STATES, lease_expires_at__lt=now)
    for run_id in expired.values_list("pk", flat=True):
        _reconcile_one(run_id, result)
    unclaimed = _unclaimed()
    for run_id in unclaimed.values_list("pk", flat=True):
        _reconcile_unclaimed(run_id, result)
    return result


def sweep_run_workdirs() -> list[str]:
    """Settle the run folders a dead worker left on this host, as it would have at the end.

    A worker killed mid-run (kill -9, OOM) never removes its run's folder, and the
    recording it was writing stays in there. Once the run has ended (taken back
    above) and nothing in the folder changed for a lease plus a stop's grace (a
    worker cut off from the database has noticed by then and stopped its ffmpeg),
    each recording file becomes a recording and the folder goes (remove_run_workdir
    keeps aside what could not be saved). A folder whose run row is gone (its job was
    deleted) only has to be quiet as long. Returns the folders swept, "job-N/run-M".

    Several worker processes of one host share its folders: one sweeps at a time, and
    the others skip their turn rather than save a recording twice.
    """
    with sweep_lock() as held:
        return _sweep_quiet_folders() if held else []


def _sweep_quiet_folders() -> list[str]:
    folders = list(existing_run_workdirs())
    if not folders:
        return []
    grace = conf.LEASE_SECONDS + conf.STOP_GRACE_SECONDS
    quiet_since, ended_before = time.time() - grace, timezone.now() - timedelta(seconds=grace)
    runs = {
        (run.job_id, run.number): run
        # The runs these folders belong to (and a few more of the same jobs), not every
        # run a long-lived job ever had.
        for run in StreamRun.objects.filter(
            job_id__in={job_id for job_id, _, _ in folders},
            number__in={number for _, number, _ in folders},
        ).select_related("job")
    }
    swept = []
    for job_id, number, folder in folders:
        run = runs.get((job_id, number))
        if run is not None and not (
            run.state == RunState.ENDED and run.ended_at and run.ended_at < ended_before
        ):
            continue  # still running here, or ended a moment ago and still tearing down
        if last_written(folder) > quiet_since:
            continue
        if run is not None:
            for recording in recording_files(folder):
                finish_recording(job=run.job, run=run, path=recording)
        logger.warning("run folder %s was left behind by its worker; removed", folder)
        remove_run_workdir(job_id, number)
        swept.append(f"{folder.parent.name}/{folder.name}")
    return swept


def _unclaimed() -> QuerySet[StreamRun]:
    cutoff = timezone.now() - timedelta(seconds=conf.CLAIM_TIMEOUT_SECONDS)
    return StreamRun.objects.filter(state=RunState.PENDING, dispatched_at__lt=cutoff)


@transaction.atomic
def _reconcile_unclaimed(run_id: int, result: ReconcileResult) -> None:
    now = timezone.now()
    runs = _unclaimed().filter(pk=run_id)
    # A message may be late rather than lost: claim() accepts only a pending run, so the
    # original and the re-sent message can never both start it.
    if runs.filter(dispatch_count__lt=2).update(
        dispatch_count=F("dispatch_count") + 1, dispatched_at=now
    ):
        run = StreamRun.objects.get(pk=run_id)
        logger.warning("stream run %s of job %s not claimed; sending it again", run.pk, run.job_id)
        dispatch_run(run)
        result.redispatched.append(run_id)
        return
    line = {
        "level": "error",
        "line": f"[castcore] [error] {NOT_CLAIMED_HINT}",
        "hint_code": NOT_CLAIMED_HINT_CODE,
        "hint": NOT_CLAIMED_HINT,
    }
    if not runs.update(
        state=RunState.ENDED, exit_reason=ExitReason.NOT_CLAIMED, ended_at=now, log_tail=[line]
    ):
        return  # claimed (or ended) meanwhile
    run = StreamRun.objects.get(pk=run_id)
    logger.error("stream run %s of job %s: %s", run.pk, run.job_id, NOT_CLAIMED_HINT)
    result.not_claimed.append(run_id)
    failed = StreamJob.objects.filter(pk=run.job_id, fencing_token=run.fencing_token).update(
        state=JobState.FAILED, desired_state=DesiredState.STOPPED, state_changed_at=now
    )
    if failed:
        result.failed.append(run.job_id)
        announce_job_state(
            job_id=run.job_id, state=JobState.FAILED, previous=None, reason=ExitReason.NOT_CLAIMED
        )
        publish_status(status_event(StreamJob.objects.get(pk=run.job_id)), after_commit=True)


@transaction.atomic
def _reconcile_one(run_id: int, result: ReconcileResult) -> None:
    now = timezone.now()
    taken = StreamRun.objects.filter(
        pk=run_id, state__in=ACTIVE_RUN_STATES, lease_expires_at__lt=now
    ).update(state=RunState.ENDED, exit_reason=ExitReason.LEASE_LOST, ended_at=now)
    if taken != 1:
        return  # the worker renewed it or another reconciler took it
    result.taken_back.append(run_id)
    run = StreamRun.objects.get(pk=run_id)
    logger.warning(
        "stream run %s of job %s lost its lease (worker %s)", run.pk, run.job_id, run.worker
    )
    # The dead worker's last process counts as healthy for as long as its heartbeats
    # saw it running, as the supervisor would have counted it when it exited.
    healthy_for_s = 0.0
    if run.process_started_at is not None and run.heartbeat_at is not None:
        healthy_for_s = (run.heartbeat_at - run.process_started_at).total_seconds()
    attempts = lease.attempts_used(attempts=run.reconnect_attempts, healthy_for_s=healthy_for_s)
    _settle_job(run, now, result, reconnect=(run.reconnect_count + 1, attempts + 1))


@transaction.atomic
def hand_over_run(*, run: StreamRun, **fields: object) -> bool:
    """End `run` of a worker that is stopping, and dispatch a new run of its job at once.

    What the reconciler does for a dead worker's run, without waiting for the lease to
    expire, and without counting a reconnect: nothing failed. `fields` are the run's
    last figures (position_s: where a file input continues). False if the run had
    already ended (taken back, superseded), and nothing changed.
    """
    now = timezone.now()
    ended = StreamRun.objects.filter(
        pk=run.pk, fencing_token=run.fencing_token, state__in=ACTIVE_RUN_STATES
    ).update(state=RunState.ENDED, exit_reason=ExitReason.HANDOVER, ended_at=now, **fields)
    if ended != 1:
        return False
    run.refresh_from_db()
    logger.info("stream run %s of job %s handed over by worker %s", run.pk, run.job_id, run.worker)
    _settle_job(
        run, now, ReconcileResult(), reconnect=(run.reconnect_count, run.reconnect_attempts)
    )
    return True


def _settle_job(
    run: StreamRun, now: datetime, result: ReconcileResult, *, reconnect: tuple[int, int]
) -> None:
    """After `run` ended without its supervisor settling the job: restart the job or settle it.

    A job that should run restarts with a new run (from the run's position) while its
    reconnect budget lasts; `reconnect` is the new run's (reconnect_count,
    reconnect_attempts), the attempts checked against the job's limit.
    """
    job = StreamJob.objects.select_for_update().get(pk=run.job_id)
    if job.fencing_token != run.fencing_token:
        return  # a newer run already owns the job
    jobs = StreamJob.objects.filter(pk=job.pk, fencing_token=run.fencing_token)
    reconnect_count, attempts = reconnect
    attempts_left = job.reconnect_max_attempts is None or attempts <= job.reconnect_max_attempts
    if job.desired_state == DesiredState.RUNNING and attempts_left:
        new_run = begin_run(
            job_id=job.pk,
            state_changed_at=now,
            token=run.fencing_token,
            resume_position_s=run.position_s,
            reconnect_count=reconnect_count,
            reconnect_attempts=attempts,
        )
        assert new_run is not None  # the job's row is locked, and holds this run's token
        dispatch_run(new_run)
        result.restarted.append(job.pk)
    elif job.desired_state == DesiredState.PAUSED:
        jobs.update(state=JobState.PAUSED, resume_position_s=run.position_s, state_changed_at=now)
    elif job.desired_state == DesiredState.STOPPED:
        jobs.update(state=JobState.STOPPED, resume_position_s=0.0, state_changed_at=now)
        announce_job_state(job_id=job.pk, state=JobState.STOPPED, previous=job.state)
    else:
        jobs.update(state=JobState.FAILED, desired_state=DesiredState.STOPPED, state_changed_at=now)
        result.failed.append(job.pk)
        announce_job_state(
            job_id=job.pk, state=JobState.FAILED, previous=job.state, reason=run.exit_reason or ""
        )
    job.refresh_from_db()
    publish_status(status_event(job), after_commit=True)
