"""A publish end to end with real workers (PostgreSQL, Redis, Celery, nginx-rtmp, ffmpeg).

The job runs on a worker, restreams to a second nginx-rtmp, records; the session's
end stops it and links the recording; kill -9 of the worker running the transcode
is taken over by another worker while the publisher goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from apps.recordings.models import Recording
from apps.streams import conf as streams_conf
from apps.streams.live.models import LiveSession
from apps.streams.live.paths import hls_dir
from apps.streams.live.services import live_sessions_reconcile
from apps.streams.live.tests.conftest import Ingest
from apps.streams.live.tests.factories import live_stream
from apps.streams.live.tests.publisher import publish, stop
from apps.streams.models import JobState, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.tests.helpers import run_row, wait_until
from workers.ffmpeg.probe import probe
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3.0


@pytest.fixture
def worker(
    start_worker: Callable[..., subprocess.Popen[bytes]], ingest: Ingest
) -> Callable[[str], subprocess.Popen[bytes]]:
    env = {
        **ingest.worker_env(),
        "CASTCORE_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "CASTCORE_STREAM_HEARTBEAT_SECONDS": "0.5",
        "CASTCORE_STREAM_STOP_GRACE_SECONDS": str(streams_conf.STOP_GRACE_SECONDS),
    }
    return lambda prefix: start_worker(prefix, **env)


def running_run(job_id: int, *, other_than: int | None = None) -> StreamRun | None:
    run = StreamRun.objects.filter(job_id=job_id).order_by("-number").first()
    if run is None or run.state != RunState.RUNNING or not run.pid or run.pk == other_than:
        return None
    return run


def test_a_publish_is_transcoded_restreamed_and_recorded_into_its_session(
    ingest: Ingest,
    worker: Callable[[str], subprocess.Popen[bytes]],
    rtmp_server: RtmpServer,
    operator_user: Any,
) -> None:
    worker("live")
    restream = {"kind": "rtmp", "url": rtmp_server.app_url, "stream_key": "goodkey"}
    stream, key = live_stream(operator_user, outputs=[restream], recording_enabled=True)
    publisher = publish(ingest.publish_url(key))
    try:
        run = wait_until(lambda: running_run(stream.job_id), timeout=40)
        assert run.worker.startswith("live-")
        # The restream target receives the publish (its on_publish saw the target's key).
        wait_until(lambda: "goodkey" in rtmp_server.publish_attempts, timeout=20)
        time.sleep(2)  # a few seconds of recording
    finally:
        stop(publisher)
    session = LiveSession.objects.get(stream=stream)
    wait_until(lambda: LiveSession.objects.get(pk=session.pk).disconnected_at, timeout=10)
    # After the grace the beat's reconciler ends it (the delayed task's queue has no
    # worker in this test); the job stops and the worker saves the recording.
    wait_until(lambda: live_sessions_reconcile().ended == [session.pk], timeout=15)
    wait_until(
        lambda: StreamJob.objects.get(pk=stream.job_id).state == JobState.STOPPED, timeout=40
    )
    session = wait_until(
        lambda: (s := LiveSession.objects.get(pk=session.pk)).recording_id and s, timeout=30
    )
    assert session.ended_at is not None
    assert session.recording.stream_job_id == stream.job_id
    assert session.recording.owner_id == operator_user.pk


def linked_recording(session_id: int) -> Recording | None:
    return LiveSession.objects.get(pk=session_id).recording


def test_a_publisher_back_within_the_grace_gives_its_session_one_recording(
    ingest: Ingest, worker: Callable[[str], subprocess.Popen[bytes]], operator_user: Any
) -> None:
    worker("live")
    stream, key = live_stream(
        operator_user, outputs=[{"kind": "udp", "url": "udp://127.0.0.1:9"}], recording_enabled=True
    )
    parts, first_part = [], 0.0
    for number in (1, 2):
        publisher = publish(ingest.publish_url(key))
        try:
            wait_until(lambda: running_run(stream.job_id), timeout=40)
            session = wait_until(
                lambda: LiveSession.objects.filter(stream=stream, disconnected_at=None).first(),
                timeout=20,
            )
            started = time.monotonic()
            if number == 2:  # the first part is saved by now: its row, its duration
                first = wait_until(partial(linked_recording, session.pk), timeout=20)
                first_part = first.duration
            time.sleep(max(0.0, 5 - (time.monotonic() - started)))
        finally:
            stop(publisher)
        parts.append(time.monotonic() - started)
        # Back within the grace (4 s here): the same session goes on.
        left = LiveSession.objects.filter(pk=session.pk, disconnected_at__isnull=False)
        wait_until(left.exists, timeout=10)
    session = LiveSession.objects.get(stream=stream)
    assert session.reconnects == 1
    wait_until(lambda: live_sessions_reconcile().ended == [session.pk], timeout=15)
    wait_until(
        lambda: StreamJob.objects.get(pk=stream.job_id).state == JobState.STOPPED, timeout=40
    )
    session = wait_until(
        lambda: (s := LiveSession.objects.get(pk=session.pk)).recording_id and s, timeout=30
    )
    # Both process segments' files are handed over; the second is joined onto the first.
    time.sleep(3)
    recordings = Recording.objects.filter(stream_job_id=stream.job_id)
    assert [r.pk for r in recordings] == [session.recording_id]
    recording = recordings.get()
    duration = probe(Path(recording.file.path), timeout=30).duration
    assert duration is not None
    # The first part's row became the session's recording, and the second part is in it:
    # seconds more than the first alone (each part was published ~5 s; how much of it is
    # recorded depends on the job's connect and first keyframe, slow on a loaded machine).
    assert first.pk == recording.pk and first_part > 0
    assert duration >= first_part + 2, (duration, first_part, parts)
    assert recording.duration == pytest.approx(duration, abs=0.5)
    assert len(list(Path(recording.file.path).parent.glob("*.mkv"))) == 1


def test_kill_9_of_the_worker_running_a_live_transcode_is_taken_over_within_the_lease(
    ingest: Ingest,
    worker: Callable[[str], subprocess.Popen[bytes]],
    operator_user: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams_conf, "LEASE_SECONDS", LEASE_SECONDS)
    first_worker = worker("first")
    variants = [{"name": "180p", "height": 180, "video_bitrate_kbps": 200}]
    stream, key = live_stream(operator_user, variants=variants, latency_level=0)
    playlist = hls_dir(stream) / "180p" / "index.m3u8"
    publisher = publish(ingest.publish_url(key))
    try:
        run = wait_until(lambda: running_run(stream.job_id), timeout=40)
        assert run.worker.startswith("first-")
        wait_until(lambda: playlist.is_file() and ".ts" in playlist.read_text(), timeout=30)
        second_worker = worker("second")
        os.kill(first_worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first_worker.wait(10)
        # The beat's reconciler, as it runs every few seconds: the lease expires, the run
        # is taken back and the job restarted (a live job retries for ever).
        while not (result := reconcile_runs()).taken_back:
            assert time.monotonic() - killed_at < LEASE_SECONDS + 5
            time.sleep(0.5)
        assert result.taken_back == [run.pk] and result.restarted == [stream.job_id]
        taken = wait_until(lambda: running_run(stream.job_id, other_than=run.pk), timeout=30)
        assert taken.worker.startswith("second-") and taken.number == run.number + 1
        took = time.monotonic() - killed_at
        # Without an operator: the same session goes on, the publisher never noticed.
        session = LiveSession.objects.get(stream=stream)
        assert session.ended_at is None and session.disconnected_at is None
        assert publisher.poll() is None and second_worker.poll() is None
        print(f"kill -9 to a running transcode on another worker: {took:.1f} s")
        # Viewers' playlist goes on: new segments after a discontinuity, no end.
        wait_until(
            lambda: (
                "#EXT-X-DISCONTINUITY" in (text := playlist.read_text())
                and text.rsplit("#EXT-X-DISCONTINUITY", 1)[1].count(".ts") >= 2
            ),
            timeout=30,
        )
        assert "#EXT-X-ENDLIST" not in playlist.read_text()
    finally:
        stop(publisher)
    assert run_row(StreamJob.objects.get(pk=stream.job_id)).pk == taken.pk
