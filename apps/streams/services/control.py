"""Start, stop, restart and pause: compare-and-set transitions on the job row.

Each transition is one conditional UPDATE of the job's row (`filter(pk=…,
state__in=…).update(...)`, or `begin_run`'s statement for those that make a run):
of any number of concurrent callers exactly one changes the row, so a hundred
starts make one run and one dispatch. The owning worker learns of stop/restart/pause from
the row on its next heartbeat; a nudge over the channel layer makes it look now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.streams.events import (
    StreamControlEvent,
    StreamStatusEvent,
    control_group,
    publish_status,
)
from apps.streams.job_events import announce_job_state
from apps.streams.models import (
    DesiredState,
    ExitReason,
    JobState,
    RunState,
    StreamJob,
    StreamRun,
)
from apps.streams.quota import quota_breach
from apps.streams.specs import as_api_error, checked_recording, job_spec_for
from apps.streams.status import status_event, status_payload
from castcore.api.errors import ApiError, Conflict
from castcore.events import publish
from workers.ffmpeg.spec import SpecError

logger = logging.getLogger(__name__)

STARTABLE = (JobState.STOPPED, JobState.FAILED, JobState.PAUSED)
RUNNING_STATES = (JobState.STARTING, JobState.RUNNING, JobState.RECONNECTING)
# The job row's fields that transitions (here and in the worker) change: what the
# caller's copy re-reads after one. A whole refresh also dropped the profile and
# outputs the caller had loaded, and the view and the announcement read them again.
CONTROL_FIELDS = (
    "state", "desired_state", "fencing_token", "last_run_number", "state_changed_at",
    "resume_position_s",
)  # fmt: skip


def _invalid(job_id: int, to: str) -> Conflict:
    state = StreamJob.objects.filter(pk=job_id).values_list("state", flat=True).first()
    return Conflict("stream_job.invalid_transition", {"from": state, "to": to})


def _check_startable(job: StreamJob) -> None:
    """Refuse to start what cannot run, before any row changes."""
    try:
        spec = job_spec_for(job, resolve=False, recording_path=checked_recording(job))
    except SpecError as exc:
        raise as_api_error(exc) from None
    if not spec.enabled_outputs:
        raise ApiError("spec.no_enabled_outputs")
    if breach := quota_breach(job):
        raise Conflict("stream_job.quota_exceeded", breach.params())


def dispatch_run(run: StreamRun) -> None:
    """Send `run` to the ffmpeg queue once the transaction commits (the reconciler too)."""
    # Only ids and the fencing token travel in the message: never secrets.
    from workers.stream_jobs import run_stream_job

    run_id, token = run.pk, run.fencing_token
    transaction.on_commit(lambda: run_stream_job.apply_async(args=[run_id, token], queue="ffmpeg"))


def _nudge(job_id: int, command: str) -> None:
    event: StreamControlEvent = {"type": "stream.control", "job_id": job_id, "command": command}
    publish(control_group(job_id), event)


def _announce(job_id: int, event: Callable[[], StreamStatusEvent] | None = None) -> None:
    """Publish the job's committed state (`event`, or read from the row) after the commit.

    Read after the commit, and after the hooks registered before it (a start's
    dispatch): the worker gets its message without waiting for this. Best effort:
    the change is committed whatever happens here, and sockets read the current
    state when they connect.
    """

    def announce() -> None:
        try:
            publish_status(event() if event else status_event(StreamJob.objects.get(pk=job_id)))
        except Exception:
            logger.warning("could not announce the state of stream job %s", job_id, exc_info=True)

    transaction.on_commit(announce)


# A job's move to starting in one statement that also returns what its new run needs,
# as the worker's claim does (runtime/lease.py): the ORM's UPDATE and a SELECT after it
# were two round trips and two compilations on the path of every start. The values
# come from the job's row as this UPDATE leaves it, so under concurrent transitions
# each run gets the token and number its own bump made. The runs' own highest number
# only matters where the counter is behind: runs made before the counter existed, or
# by a process still running older code while a deployment migrates. Read in the same
# statement, it may miss a run committed meanwhile, but such a run bumped the counter.
# PostgreSQL and SQLite (3.35+) both return columns from an UPDATE; the larger of two
# values is GREATEST in one and MAX in the other.
_BEGIN_RUN_SQL = """
    UPDATE {jobs}
       SET state = %s, desired_state = %s, state_changed_at = %s,
           fencing_token = fencing_token + 1,
           last_run_number = {greatest}(
               last_run_number,
               COALESCE((SELECT MAX(number) FROM {runs} WHERE job_id = {jobs}.id), 0)) + 1,
           resume_position_s = COALESCE(%s, resume_position_s)
     WHERE id = %s{conditions}
 RETURNING fencing_token, last_run_number, resume_position_s, recording_enabled
"""


def begin_run(
    *,
    job_id: int,
    state_changed_at: datetime,
    from_states: tuple[str, ...] | None = None,
    token: int | None = None,
    resume_position_s: float | None = None,
    reconnect_count: int = 0,
    reconnect_attempts: int = 0,
) -> StreamRun | None:
    """Move the job to starting under a new fencing token, with a pending run holding it.

    Only if the job is in one of `from_states` and holds `token` (either left out: any);
    None if it is not, and nothing changed. The run starts at `resume_position_s`, or at
    the position the job kept. Call it inside a transaction: the job and its run are
    written together, and the caller dispatches the run after the commit.
    """
    conditions = ""
    condition_params: list[Any] = []
    if from_states is not None:
        conditions += f" AND state IN ({', '.join(['%s'] * len(from_states))})"
        condition_params += list(from_states)
    if token is not None:
        conditions += " AND fencing_token = %s"
        condition_params.append(token)
    sql = _BEGIN_RUN_SQL.format(
        jobs=StreamJob._meta.db_table,
        runs=StreamRun._meta.db_table,
        greatest="GREATEST" if connection.vendor == "postgresql" else "MAX",
        conditions=conditions,
    )
    changed_at = connection.ops.adapt_datetimefield_value(state_changed_at)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [JobState.STARTING, DesiredState.RUNNING, changed_at, resume_position_s,
             job_id, *condition_params],
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        return None
    # A raw cursor gets SQLite's own types: 0 for a whole REAL, 0/1 for a boolean.
    new_token, number, start_offset_s, recording = row
    return StreamRun.objects.create(
        job_id=job_id,
        number=number,
        fencing_token=new_token,
        start_offset_s=float(start_offset_s),
        recording=bool(recording),
        reconnect_count=reconnect_count,
        reconnect_attempts=reconnect_attempts,
    )


def _end_pending_runs(job_id: int, reason: str, *, below_token: int | None = None) -> int:
    """End runs no worker has claimed yet; a late worker's claim (state=pending) then fails."""
    runs = StreamRun.objects.filter(job_id=job_id, state=RunState.PENDING)
    if below_token is not None:
        runs = runs.filter(fencing_token__lt=below_token)
    return runs.update(state=RunState.ENDED, exit_reason=reason, ended_at=timezone.now())


def _audit(
    actor: Any, action: str, job_id: int, request: HttpRequest | None, **changes: Any
) -> None:
    audit_record(
        actor=actor,
        action=f"stream_job.{action}",
        target_type="streams.streamjob",
        target_id=str(job_id),
        changes={key: list(value) for key, value in changes.items()},
        request=request,
    )


def stream_job_start(
    *, actor: Any, job: StreamJob, request: HttpRequest | None = None
) -> StreamJob:
    """stopped/failed/paused → starting with a new run; already running: no-op."""
    _check_startable(job)
    now = timezone.now()
    with transaction.atomic():
        run = begin_run(job_id=job.pk, state_changed_at=now, from_states=STARTABLE)
        if run is not None:
            dispatch_run(run)
            _audit(actor, "start", job.pk, request, run=(None, run.number))
    if run is None:
        job.refresh_from_db(fields=CONTROL_FIELDS)
        if job.state not in RUNNING_STATES:
            raise _invalid(job.pk, "running")
        return job
    # What this transaction wrote (read back by its UPDATE): no re-read while the
    # worker, just sent its message, claims the run.
    job.state, job.desired_state = JobState.STARTING, DesiredState.RUNNING
    job.fencing_token, job.last_run_number = run.fencing_token, run.number
    job.state_changed_at, job.resume_position_s = now, run.start_offset_s
    _announce(job.pk, lambda: status_payload(job, run))
    return job


@transaction.atomic
def stream_job_stop(*, actor: Any, job: StreamJob, request: HttpRequest | None = None) -> StreamJob:
    """Running → stopping (the worker stops ffmpeg); paused → stopped; stopped: no-op.

    Every way into `stopped` announces `stream_job.stopped` (the worker's release does it
    for a job it ran; here for a job stopped before any worker held it, or paused, or failed).
    """
    now = timezone.now()
    previous = (
        StreamJob.objects.select_for_update()
        .filter(pk=job.pk)
        .values_list("state", flat=True)
        .first()
    )
    changed = StreamJob.objects.filter(
        pk=job.pk, state__in=(*RUNNING_STATES, JobState.PAUSING)
    ).update(state=JobState.STOPPING, desired_state=DesiredState.STOPPED, state_changed_at=now)
    if changed == 1:
        if _end_pending_runs(job.pk, ExitReason.STOPPED):
            # Nothing was running yet: the job is stopped right away.
            StreamJob.objects.filter(pk=job.pk, state=JobState.STOPPING).update(
                state=JobState.STOPPED, resume_position_s=0.0
            )
            announce_job_state(job_id=job.pk, state=JobState.STOPPED, previous=previous)
        else:
            _nudge(job.pk, "stop")
    else:
        changed = StreamJob.objects.filter(
            pk=job.pk, state__in=(JobState.PAUSED, JobState.FAILED)
        ).update(
            state=JobState.STOPPED,
            desired_state=DesiredState.STOPPED,
            resume_position_s=0.0,
            state_changed_at=now,
        )
        if changed:
            announce_job_state(job_id=job.pk, state=JobState.STOPPED, previous=previous)
    if changed:
        _audit(
            actor, "stop", job.pk, request, desired_state=(job.desired_state, DesiredState.STOPPED)
        )
        _announce(job.pk)
    job.refresh_from_db(fields=CONTROL_FIELDS)
    return job


@transaction.atomic
def stream_job_restart(
    *, actor: Any, job: StreamJob, request: HttpRequest | None = None
) -> StreamJob:
    """A new run with a new fencing token; the old worker sees its token superseded and stops."""
    _check_startable(job)
    run = begin_run(
        job_id=job.pk,
        state_changed_at=timezone.now(),
        from_states=(*RUNNING_STATES, JobState.FAILED),
        resume_position_s=0.0,
    )
    if run is None:
        raise _invalid(job.pk, "restarting")
    _end_pending_runs(job.pk, ExitReason.SUPERSEDED, below_token=run.fencing_token)
    dispatch_run(run)
    _nudge(job.pk, "restart")
    _audit(actor, "restart", job.pk, request, run=(None, run.number))
    _announce(job.pk)
    job.refresh_from_db(fields=CONTROL_FIELDS)
    return job


@transaction.atomic
def stream_job_pause(
    *, actor: Any, job: StreamJob, request: HttpRequest | None = None
) -> StreamJob:
    """Running → pausing (the worker records the position and stops); paused: no-op."""
    changed = StreamJob.objects.filter(pk=job.pk, state__in=RUNNING_STATES).update(
        state=JobState.PAUSING, desired_state=DesiredState.PAUSED, state_changed_at=timezone.now()
    )
    if changed != 1:
        job.refresh_from_db(fields=CONTROL_FIELDS)
        if job.state in (JobState.PAUSED, JobState.PAUSING):
            return job
        raise _invalid(job.pk, "paused")
    if _end_pending_runs(job.pk, ExitReason.PAUSED):
        StreamJob.objects.filter(pk=job.pk, state=JobState.PAUSING).update(state=JobState.PAUSED)
    else:
        _nudge(job.pk, "pause")
    _audit(actor, "pause", job.pk, request, desired_state=(job.desired_state, DesiredState.PAUSED))
    _announce(job.pk)
    job.refresh_from_db(fields=CONTROL_FIELDS)
    return job


@transaction.atomic
def stream_job_respawn(*, job_id: int, at: datetime) -> bool:
    """Running → running with a new ffmpeg from `at`, in the same run.

    The owning worker stops its ffmpeg at that instant (at once if it has passed) and
    starts the next from the job's input as it is then: a channel whose rows changed
    inside the window its ffmpeg plays. Of two pending instants the earlier wins (the
    new ffmpeg reads everything changed by then); a worker that starts an ffmpeg clears
    the request, which that ffmpeg answers. False when the job does not run: its next
    start reads the input afresh anyway.
    """
    changed = (
        StreamJob.objects.filter(pk=job_id, state__in=RUNNING_STATES)
        .filter(Q(respawn_at__isnull=True) | Q(respawn_at__gt=at))
        .update(respawn_at=at)
    )
    if changed:
        transaction.on_commit(lambda: _nudge(job_id, "respawn"))
        return True
    return StreamJob.objects.filter(pk=job_id, state__in=RUNNING_STATES).exists()


@transaction.atomic
def stream_job_respawn_replace(*, job_id: int, at: datetime | None) -> bool:
    """Running → running with the next ffmpeg at `at` (None: none asked for), whatever was
    pending: for the ffmpeg being built from the job's input as it is now, whose own
    hand-over this is.

    A request made after its predecessor answered one (the worker clears the request
    before it reads the input) but before it read the input asks for rows it already
    has: replaced here, it does not cut the new ffmpeg once more. Call it while holding
    what orders those requests with the read (a channel's row lock), so a request made
    after the read still comes after this and wins by stream_job_respawn's rule.
    """
    changed = StreamJob.objects.filter(pk=job_id, state__in=RUNNING_STATES).update(respawn_at=at)
    if changed and at is not None:
        transaction.on_commit(lambda: _nudge(job_id, "respawn"))
    return bool(changed)
