"""The reconnect budget after a worker loss: a run's healthy period resets it for the reconciler
as it does for the supervisor, so worker losses spread over weeks never add up to a failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.streams import conf
from apps.streams.models import ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row

pytestmark = pytest.mark.django_db


def udp_job(**fields: object) -> StreamJob:
    return job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}, **fields)


def lose_worker(run: StreamRun, *, process_ran_s: float, attempts: int | None = None) -> None:
    """As a worker leaves a run when it dies: running, its ffmpeg up for `process_ran_s`
    at the last heartbeat, `attempts` of the budget used (default: as the run began),
    and the lease past due."""
    now = timezone.now()
    attempts = run.reconnect_attempts if attempts is None else attempts
    last_beat = now - timedelta(seconds=conf.LEASE_SECONDS + 1)
    StreamRun.objects.filter(pk=run.pk).update(
        state=RunState.RUNNING,
        worker="dead-worker",
        started_at=last_beat - timedelta(seconds=process_ran_s + 5),
        process_started_at=last_beat - timedelta(seconds=process_ran_s),
        heartbeat_at=last_beat,
        lease_expires_at=now - timedelta(seconds=1),
        reconnect_attempts=attempts,
        reconnect_count=max(attempts, run.reconnect_count),
    )


def test_a_run_healthy_past_the_healthy_period_resets_the_budget_for_the_reconciler() -> None:
    # An hour healthy, one crash (the budget of 1 used), then its worker was lost.
    job = udp_job(reconnect_max_attempts=1)
    stream_job_start(actor=None, job=job)
    run = run_row(job)
    lose_worker(run, process_ran_s=3600, attempts=1)

    result = reconcile_runs()

    assert result.taken_back == [run.pk] and result.restarted == [job.pk]
    new = run_row(job)
    assert new.number == run.number + 1 and new.state == RunState.PENDING
    assert new.reconnect_attempts == 1  # this loss starts a fresh series
    assert new.reconnect_count == 2  # while the count of reconnects goes on
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING


def test_a_run_lost_before_its_process_was_healthy_uses_up_the_budget() -> None:
    job = udp_job(reconnect_max_attempts=1)
    stream_job_start(actor=None, job=job)
    run = run_row(job)
    lose_worker(run, process_ran_s=conf.HEALTHY_RESET_SECONDS / 2, attempts=1)

    result = reconcile_runs()

    assert result.failed == [job.pk] and result.restarted == []
    run.refresh_from_db()
    assert run.exit_reason == ExitReason.LEASE_LOST
    assert StreamJob.objects.get(pk=job.pk).state == JobState.FAILED


def test_a_run_lost_while_reconnecting_counts_no_healthy_period() -> None:
    # Between two processes the run has none running (process_started_at null): however
    # long ago its last one started, the loss is one more attempt of the same series.
    job = udp_job(reconnect_max_attempts=1)
    stream_job_start(actor=None, job=job)
    run = run_row(job)
    lose_worker(run, process_ran_s=3600, attempts=1)
    StreamRun.objects.filter(pk=run.pk).update(state=RunState.RECONNECTING, process_started_at=None)

    assert reconcile_runs().failed == [job.pk]


def test_ten_worker_losses_of_healthy_runs_never_exhaust_the_budget() -> None:
    job = udp_job(reconnect_max_attempts=1)
    stream_job_start(actor=None, job=job)
    for loss in range(1, 11):
        run = run_row(job)
        lose_worker(run, process_ran_s=2 * conf.HEALTHY_RESET_SECONDS)

        result = reconcile_runs()

        assert result.restarted == [job.pk], f"worker loss {loss}"
        new = run_row(job)
        assert new.reconnect_attempts == 1 and new.reconnect_count == loss
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING
