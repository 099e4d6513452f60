"""kill -9 of a real Celery worker mid-stream: no ffmpeg is left; the reconciler settles the job;
and the next worker on the host, once the run's folder is quiet, turns the recording the dead
worker was writing into a recording."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from apps.recordings.models import Recording
from apps.streams import conf
from apps.streams.models import ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.runtime.workdir import run_workdir
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3.0
RECONCILE_INTERVAL = 2.0  # what beat would use in this test; we call the reconciler ourselves
SWEEP_INTERVAL = 1.0  # how often the workers sweep this host's run folders
HEALTHY_RESET_SECONDS = 2.0  # how long a process runs before a failure starts a fresh series


@pytest.fixture
def start_worker(
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> Callable[[], subprocess.Popen[bytes]]:
    env = {
        "CASTCORE_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "CASTCORE_STREAM_HEARTBEAT_SECONDS": "0.5",
        "CASTCORE_STREAM_STOP_GRACE_SECONDS": str(conf.STOP_GRACE_SECONDS),
        "CASTCORE_STREAM_RECONCILE_INTERVAL_SECONDS": str(SWEEP_INTERVAL),
        "CASTCORE_STREAM_HEALTHY_RESET_SECONDS": str(HEALTHY_RESET_SECONDS),
    }
    return lambda: start_worker("kill", **env)


def ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "ffmpeg"]
    except psutil.NoSuchProcess:
        return []


def test_kill_9_of_the_worker_leaves_no_ffmpeg_and_the_run_is_reconciled(
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    celery_worker = start_worker()
    job = job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""},
        reconnect_max_attempts=0,
        recording_enabled=True,
    )
    stream_job_start(actor=None, job=job)  # autocommit: the message leaves at once
    run: StreamRun = wait_until(
        lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r, timeout=40
    )
    assert run.worker.startswith("kill-")
    ffmpeg = psutil.Process(run.pid)
    assert ffmpeg.name() == "ffmpeg" and ffmpeg in ffmpeg_children(celery_worker.pid)
    assert run.pid and os.getpgid(run.pid) == run.pgid != os.getpgid(celery_worker.pid)
    segment = run_workdir(job.pk, run.number) / "recording-001.mkv"
    wait_until(lambda: segment.is_file() and segment.stat().st_size > 0)

    os.kill(celery_worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    celery_worker.wait(10)
    wait_until(
        lambda: not psutil.pid_exists(run.pid) or ffmpeg.status() == psutil.STATUS_ZOMBIE, timeout=5
    )

    # The beat reconciler, as it would run every RECONCILE_INTERVAL seconds.
    while not (result := reconcile_runs()).taken_back:
        assert time.monotonic() - killed_at < LEASE_SECONDS + RECONCILE_INTERVAL + 1
        time.sleep(RECONCILE_INTERVAL / 4)
    assert result.taken_back == [run.pk] and result.failed == [job.pk]
    run.refresh_from_db()
    assert run.state == RunState.ENDED and run.exit_reason == ExitReason.LEASE_LOST
    assert StreamJob.objects.get(pk=job.pk).state == JobState.FAILED
    assert not [
        p for p in psutil.process_iter(["name"]) if p.info["name"] == "ffmpeg" and p.pid == run.pid
    ]

    # The dead worker's folder is on this host's disk, where beat's reconciler need not
    # be. The next worker here sweeps it once it is quiet for a lease and a stop's grace:
    # the recording is saved and the folder goes.
    assert segment.is_file() and not Recording.objects.exists()
    start_worker()
    recording = wait_until(
        lambda: Recording.objects.filter(stream_job_id=job.pk).first(),
        timeout=LEASE_SECONDS + conf.STOP_GRACE_SECONDS + SWEEP_INTERVAL + 20,
    )
    assert Path(recording.file.path).stat().st_size > 0
    wait_until(lambda: not segment.parent.exists(), timeout=5)


def test_after_a_crash_a_healthy_stretch_and_a_worker_loss_the_reconciler_restarts_the_job(
    start_worker: Callable[[], subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "HEALTHY_RESET_SECONDS", HEALTHY_RESET_SECONDS)  # the reconciler's
    celery_worker = start_worker()
    job = job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""},
        reconnect_max_attempts=1,
        reconnect_base_seconds=0.1,
        reconnect_jitter=0.0,
    )
    stream_job_start(actor=None, job=job)
    first: StreamRun = wait_until(
        lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r, timeout=40
    )
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)  # ffmpeg crashes: the supervisor uses its one attempt
    run: StreamRun = wait_until(
        lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid != first.pid and r,
        timeout=20,
    )
    assert run.pk == first.pk and run.reconnect_attempts == 1
    # The new ffmpeg runs past the healthy period, and a heartbeat has seen it do so.
    wait_until(
        lambda: (
            (r := run_row(job)).process_started_at is not None
            and r.heartbeat_at is not None
            and (r.heartbeat_at - r.process_started_at).total_seconds() > HEALTHY_RESET_SECONDS
        ),
        timeout=HEALTHY_RESET_SECONDS + 10,
    )

    os.kill(celery_worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    celery_worker.wait(10)
    while not (result := reconcile_runs()).taken_back:
        assert time.monotonic() - killed_at < LEASE_SECONDS + RECONCILE_INTERVAL + 1
        time.sleep(RECONCILE_INTERVAL / 4)

    assert result.taken_back == [run.pk] and result.restarted == [job.pk] and not result.failed
    resumed = run_row(job)
    assert resumed.number == run.number + 1 and resumed.reconnect_attempts == 1
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING
