"""kill -9 of the worker running a live stream's transcode: the reconciler restarts the job,
another worker takes it over, and viewers' playlists go on (a discontinuity marks the join)
without an operator. Real Celery workers, PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.streams import conf
from apps.streams.live.paths import hls_dir
from apps.streams.models import LiveStream, OutputKind, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import OutputFactory, StreamJobFactory
from apps.streams.tests.helpers import run_row, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3.0
VARIANTS = [
    {"name": "240p", "width": 320, "height": 240, "video_bitrate_kbps": 300},
    {"name": "144p", "width": 192, "height": 144, "video_bitrate_kbps": 120},
]


@pytest.fixture
def start_worker(
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> Callable[[], subprocess.Popen[bytes]]:
    env = {
        "CASTCORE_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "CASTCORE_STREAM_HEARTBEAT_SECONDS": "0.5",
        "CASTCORE_STREAM_STOP_GRACE_SECONDS": str(conf.STOP_GRACE_SECONDS),
    }
    return lambda: start_worker("ladder", **env)


def playlist_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def segments(lines: list[str]) -> list[str]:
    return [x for x in lines if x.endswith(".ts")]


def test_a_takeover_after_kill_9_continues_the_viewers_playlists(
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    first_worker = start_worker()
    job: StreamJob = StreamJobFactory(reconnect_max_attempts=3)  # type: ignore[assignment]
    # A restream output too: the job has rows of its own besides the ladder.
    OutputFactory(job=job, kind=OutputKind.UDP, url="udp://127.0.0.1:9", stream_key="")
    stream = LiveStream.objects.create(
        name="Live", slug="takeover", job=job, variants=VARIANTS, latency_level=0
    )
    playlist = hls_dir(stream) / "240p" / "index.m3u8"
    stream_job_start(actor=None, job=job)
    run: StreamRun = wait_until(
        lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r, timeout=40
    )
    wait_until(lambda: len(segments(playlist_lines(playlist))) >= 3, timeout=30)

    os.kill(first_worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    first_worker.wait(10)
    before = segments(playlist_lines(playlist))
    assert "#EXT-X-ENDLIST" not in playlist_lines(playlist)

    second_worker = start_worker()
    while not (result := reconcile_runs()).taken_back:
        assert time.monotonic() - killed_at < LEASE_SECONDS + 10
        time.sleep(0.5)
    assert result.restarted == [job.pk]
    resumed: StreamRun = wait_until(
        lambda: (r := run_row(job)).number > run.number and r.state == RunState.RUNNING and r,
        timeout=40,
    )
    assert resumed.worker != run.worker

    def joined() -> list[str] | None:
        lines = playlist_lines(playlist)
        # hlsenc marks the start of a fresh playlist too: the join has segments before it.
        marks = [i for i, x in enumerate(lines) if x == "#EXT-X-DISCONTINUITY"]
        if not marks or not segments(lines[: marks[-1]]) or len(segments(lines[marks[-1] :])) < 2:
            return None
        return lines

    lines = wait_until(joined, timeout=30)
    join = max(i for i, x in enumerate(lines) if x == "#EXT-X-DISCONTINUITY")
    old, new = segments(lines[:join]), segments(lines[join:])
    assert old and set(old) <= set(before)  # the dead worker's segments, still listed
    assert min(new) > max(before)  # numbered on, never over the old ones
    sequence = int(next(x for x in lines if x.startswith("#EXT-X-MEDIA-SEQUENCE")).split(":")[1])
    assert sequence + len(segments(lines)) > len(before)
    master = (hls_dir(stream) / "index.m3u8").read_text()
    assert "240p/index.m3u8" in master and "144p/index.m3u8" in master

    stream_job_stop(actor=None, job=job)
    wait_until(lambda: run_row(job).state == RunState.ENDED, timeout=20)
    second_worker.send_signal(signal.SIGTERM)
