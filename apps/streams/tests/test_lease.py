"""The lease owns the process: a worker that loses it kills ffmpeg; the reconciler takes it back."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.utils import timezone

from apps.streams.models import ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.services import stream_job_restart, stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import RunThread, run_row, start_supervised, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def udp_job(**fields: object) -> StreamJob:
    return job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}, **fields)


def test_a_worker_whose_lease_was_taken_back_kills_its_ffmpeg() -> None:
    job = udp_job(reconnect_max_attempts=0)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    run = wait_until(lambda: (r := run_row(job)).pid and r.state == RunState.RUNNING and r)

    # As if this worker had stopped heartbeating: the lease is past due. The supervisor
    # does heartbeat, and on a loaded machine a beat can land between the two statements
    # and renew the lease: then it is made past due again.
    def taken_back() -> Any:
        StreamRun.objects.filter(pk=run.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        found = reconcile_runs()
        return found if found.taken_back or found.failed else None

    result = wait_until(taken_back, timeout=20, interval=0.2)
    assert result.taken_back == [run.pk] and result.failed == [job.pk]
    thread.join(10)
    assert thread.result == ExitReason.LEASE_LOST
    assert gone(run.pid)
    run.refresh_from_db()
    assert run.exit_reason == ExitReason.LEASE_LOST
    assert StreamJob.objects.get(pk=job.pk).state == JobState.FAILED


def test_the_reconciler_restarts_a_lost_run_when_the_policy_allows() -> None:
    job = udp_job(reconnect_max_attempts=3)
    stream_job_start(actor=None, job=job)
    StreamRun.objects.filter(job=job).update(
        state=RunState.RUNNING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    result = reconcile_runs()
    assert result.restarted == [job.pk]
    old, new = StreamRun.objects.filter(job=job).order_by("number")
    assert old.exit_reason == ExitReason.LEASE_LOST
    assert new.state == RunState.PENDING and new.reconnect_count == 1
    job.refresh_from_db()
    assert job.state == JobState.STARTING and job.fencing_token == new.fencing_token
    assert reconcile_runs().taken_back == []  # a live (pending) run is left alone
    stream_job_stop(actor=None, job=job)


def test_a_live_lease_is_not_reconciled() -> None:
    job = udp_job()
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: run_row(job).state == RunState.RUNNING)
    assert reconcile_runs().taken_back == []
    stream_job_stop(actor=None, job=job)
    thread.join(10)
    assert thread.result == ExitReason.STOPPED


def started_at(pid: int) -> float:
    """When `pid` started, in wall-clock seconds, to within a clock tick.

    psutil's create_time() adds the boot time, which Linux gives in whole
    seconds: up to a second off, more than this test's tolerance.
    """
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    since_boot = ticks / os.sysconf("SC_CLK_TCK")
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return boot + since_boot


def test_restart_hands_over_without_two_processes_at_once() -> None:
    job = udp_job()
    stream_job_start(actor=None, job=job)
    first_thread = start_supervised(job)
    first = wait_until(lambda: (r := run_row(job)).pid and r)
    stream_job_restart(actor=None, job=job)
    second_thread = RunThread(run_row(job))
    second_thread.start()
    second = wait_until(lambda: (r := run_row(job)).pid and r, timeout=20)

    first_thread.join(10)
    assert first_thread.result == ExitReason.SUPERSEDED and gone(first.pid)
    first.refresh_from_db()
    assert first.ended_at is not None
    # The new ffmpeg came after the old one ended.
    assert started_at(second.pid) >= first.ended_at.timestamp() - 0.5
    assert StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING
    stream_job_stop(actor=None, job=job)
    second_thread.join(10)
    assert second_thread.result == ExitReason.STOPPED
