"""The run's lease: the database row that says which worker owns a job's ffmpeg.

Every write is conditional on the fencing token (and, while running, on the
run still being active), so a worker that lost its lease can change nothing:
its heartbeat matches no row, and it kills its ffmpeg.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.streams import conf
from apps.streams.job_events import announce_job_state
from apps.streams.models import ACTIVE_RUN_STATES, DesiredState, RunState, StreamJob, StreamRun

P = ParamSpec("P")
T = TypeVar("T")


def retry_locked(func: Callable[P, T]) -> Callable[P, T]:
    """Retry briefly when SQLite (embedded mode) still reports the database locked.

    A guard, not a path the suite takes: the file database (WAL, IMMEDIATE
    transactions, a 20 s busy timeout) makes writers wait for the lock, and none
    of the streams tests reaches this retry. It was written for the shared-cache
    in-memory database the tests once used, which failed at once. PostgreSQL never
    raises this for our single-row updates.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(20):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper


def attempts_used(*, attempts: int, healthy_for_s: float) -> int:
    """The reconnect attempts a run has used, after its last process ran `healthy_for_s`.

    A process that ran HEALTHY_RESET_SECONDS without trouble starts a fresh series: its
    failure is the first attempt of a new budget, not one more of the old. The
    supervisor asks when its ffmpeg exits, the reconciler when it takes back the run of
    a dead worker, so a job that survives one worker loss a day runs for good.
    """
    return 0 if healthy_for_s >= conf.HEALTHY_RESET_SECONDS else attempts


def _lease_until() -> Any:
    return timezone.now() + timedelta(seconds=conf.LEASE_SECONDS)


# The claim in one statement: it is the first thing a worker does on every start. On
# the benchmark machine the ORM's claim (this UPDATE with its subquery, then a SELECT
# with the EXISTS) took 11 ms in a quiet process, and this statement with a plain read
# of the run 7 ms; the difference is the ORM compiling the two, not the SQL.
# PostgreSQL and SQLite (3.35+, as Django 5.2's own inserts use) both return columns
# from an UPDATE.
_RUNS = StreamRun._meta.db_table
_JOBS = StreamJob._meta.db_table
_ACTIVE = ", ".join(["%s"] * len(ACTIVE_RUN_STATES))
_CLAIM_SQL = f"""
    UPDATE {_RUNS}
       SET state = %s, worker = %s, heartbeat_at = %s, lease_expires_at = %s, started_at = %s
     WHERE id = %s AND fencing_token = %s AND state = %s
       AND job_id IN (SELECT id FROM {_JOBS} WHERE fencing_token = %s AND desired_state = %s)
 RETURNING EXISTS (
           SELECT 1 FROM {_RUNS} older
            WHERE older.job_id = {_RUNS}.job_id AND older.fencing_token < %s
              AND older.state IN ({_ACTIVE}) AND older.lease_expires_at > %s)
"""  # noqa: S608 - table names come from the models; every value is a parameter


@retry_locked
def claim(*, run_id: int, token: int, worker: str) -> StreamRun | None:
    """Take a pending run; None if another worker has it, it was ended, or a newer run exists.

    The run comes back with its job and profile, and `predecessor_active`: whether an
    older run of the job still holds a live lease (a restart's predecessor).
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    until = connection.ops.adapt_datetimefield_value(_lease_until())
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            [
                RunState.STARTING, worker[:255], now, until, now,
                run_id, token, RunState.PENDING,
                token, DesiredState.RUNNING,
                token, *ACTIVE_RUN_STATES, now,
            ],
        )  # fmt: skip
        claimed = cursor.fetchone()
    if claimed is None:
        return None
    run = StreamRun.objects.select_related("job", "job__profile").get(pk=run_id)
    run.predecessor_active = bool(claimed[0])
    return run


@dataclass(frozen=True)
class Beat:
    owned: bool  # False: the lease was taken back (reconciled) or the run ended
    superseded: bool  # a restart gave the job to a newer run
    desired_state: str
    recording: bool = False  # the job's recording toggle now
    respawn_at: datetime | None = None  # when to replace ffmpeg (stream_job_respawn)


@retry_locked
def heartbeat(*, run: StreamRun, fields: dict[str, Any] | None = None) -> Beat:
    """Renew the lease, store live figures, and read what the operator wants now."""
    now = timezone.now()
    renewed = StreamRun.objects.filter(
        pk=run.pk, fencing_token=run.fencing_token, state__in=ACTIVE_RUN_STATES
    ).update(heartbeat_at=now, lease_expires_at=_lease_until(), **(fields or {}))
    job = (
        StreamJob.objects.filter(pk=run.job_id)
        .values("fencing_token", "desired_state", "recording_enabled", "respawn_at")
        .first()
    )
    if job is None:
        return Beat(owned=False, superseded=True, desired_state=DesiredState.STOPPED)
    return Beat(
        owned=renewed == 1,
        superseded=job["fencing_token"] != run.fencing_token,
        desired_state=job["desired_state"],
        recording=job["recording_enabled"],
        respawn_at=job["respawn_at"],
    )


@retry_locked
def respawn_answered(*, run: StreamRun) -> None:
    """An ffmpeg is starting from the job's input as it is now: it answers the pending
    respawn request (stream_job_respawn), whatever instant it asked for."""
    StreamJob.objects.filter(pk=run.job_id, fencing_token=run.fencing_token).exclude(
        respawn_at=None
    ).update(respawn_at=None)


@retry_locked
def set_run_state(*, run: StreamRun, state: str, **fields: Any) -> bool:
    return (
        StreamRun.objects.filter(
            pk=run.pk, fencing_token=run.fencing_token, state__in=ACTIVE_RUN_STATES
        ).update(state=state, **fields)
        == 1
    )


@retry_locked
@transaction.atomic
def set_job_state(
    *,
    run: StreamRun,
    state: str,
    from_states: tuple[str, ...] | None = None,
    reason: str = "",
    **fields: Any,
) -> bool:
    """Change the job only while this run holds its current token (a stale run never can),
    and announce the change (castcore.events.emit) in the same transaction."""
    jobs = StreamJob.objects.filter(pk=run.job_id, fencing_token=run.fencing_token)
    if from_states is not None:
        jobs = jobs.filter(state__in=from_states)
    previous = jobs.select_for_update().values_list("state", flat=True).first()
    if previous is None or jobs.update(state=state, state_changed_at=timezone.now(), **fields) != 1:
        return False
    announce_job_state(job_id=run.job_id, state=state, previous=previous, reason=reason)
    return True


@retry_locked
@transaction.atomic
def release(
    *,
    run: StreamRun,
    exit_reason: str,
    job_state: str | None,
    job_fields: dict[str, Any],
    **fields: Any,
) -> bool:
    """End the run; if it still holds the job's token, set the job's final state too."""
    ended = StreamRun.objects.filter(
        pk=run.pk, fencing_token=run.fencing_token, state__in=(*ACTIVE_RUN_STATES, RunState.PENDING)
    ).update(state=RunState.ENDED, exit_reason=exit_reason, ended_at=timezone.now(), **fields)
    if ended == 1 and job_state is not None:
        set_job_state(run=run, state=job_state, reason=exit_reason, **job_fields)
    return ended == 1
