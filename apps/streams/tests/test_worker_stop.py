"""SIGTERM to a real Celery worker mid-stream, as docker and systemd stop one: it hands its run
over within the stop grace, leaves no ffmpeg behind, and another worker resumes the job at once
(not after the lease expired: no reconciler runs here)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from apps.streams.models import ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Long, so that a resume within seconds can only be the hand-over, never the reconciler.
LEASE_SECONDS = 30.0
STOP_GRACE_SECONDS = 3.0
# What the worker may take beyond the stop grace: the consumer noticing the signal, the
# hand-over's writes, the bridge flushing its events and Celery's own teardown.
EXIT_MARGIN_SECONDS = 10.0
# The second worker is up and listening: taking the message and spawning ffmpeg is quick.
RESUME_WITHIN_SECONDS = 8.0

WORKER_ENV = {
    "CASTCORE_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
    "CASTCORE_STREAM_HEARTBEAT_SECONDS": "0.5",
    "CASTCORE_STREAM_STOP_GRACE_SECONDS": str(STOP_GRACE_SECONDS),
}


def wait_ready(log: Path, timeout: float = 40) -> None:
    """Until the worker's log says it consumes (Celery prints "ready." then)."""
    wait_until(lambda: log.is_file() and b" ready." in log.read_bytes(), timeout=timeout)


@pytest.mark.parametrize(
    "to_ffmpeg_too",
    [
        pytest.param(False, id="docker-stop"),  # SIGTERM to the worker (PID 1) alone
        # systemd's KillMode=control-group: SIGTERM to every process of the cgroup, ffmpeg
        # too, which then ends before its run knows the worker is stopping.
        pytest.param(True, id="systemd-stop"),
    ],
)
def test_sigterm_stops_ffmpeg_releases_the_lease_and_another_worker_resumes_at_once(
    start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path, to_ffmpeg_too: bool
) -> None:
    first = start_worker("first", **WORKER_ENV)
    # No reconnect budget at all: the job goes on only if the hand-over is not a failure.
    job = job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}, reconnect_max_attempts=0
    )
    stream_job_start(actor=None, job=job)  # autocommit: the message leaves at once
    run: StreamRun = wait_until(
        lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r, timeout=40
    )
    assert run.worker.startswith("first-")
    ffmpeg = psutil.Process(run.pid)
    start_worker("second", **WORKER_ENV)
    wait_ready(tmp_path / "worker-1.log")

    first.send_signal(signal.SIGTERM)
    if to_ffmpeg_too:
        os.kill(ffmpeg.pid, signal.SIGTERM)
    sent_at = time.monotonic()
    try:
        first.wait(STOP_GRACE_SECONDS + EXIT_MARGIN_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker did not stop within the stop grace after SIGTERM")
    exited_after = time.monotonic() - sent_at
    assert first.returncode == 0
    assert not psutil.pid_exists(ffmpeg.pid) or ffmpeg.status() == psutil.STATUS_ZOMBIE

    run.refresh_from_db()
    assert run.state == RunState.ENDED and run.exit_reason == ExitReason.HANDOVER
    # SIGINT, not the SIGKILL after the grace: ffmpeg ended on its own (255 on a signal).
    assert run.exit_code is not None and run.exit_code >= 0

    resumed: StreamRun = wait_until(
        lambda: (r := run_row(job)).number > run.number and r.state == RunState.RUNNING and r,
        timeout=LEASE_SECONDS,
    )
    resumed_after = time.monotonic() - sent_at
    print(f"worker_exit_after_sigterm_s={exited_after:.2f} resumed_after_s={resumed_after:.2f}")
    assert resumed.worker.startswith("second-")
    assert resumed_after < RESUME_WITHIN_SECONDS
    assert resumed.number == run.number + 1 and resumed.reconnect_attempts == 0
    assert resumed.pid and psutil.Process(resumed.pid).name() == "ffmpeg"
    assert StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING
    assert os.getpgid(resumed.pid) == resumed.pgid
