"""Shared helpers for tests that run real ffmpeg processes under the supervisor."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import OperationalError, connections

from apps.streams.events import StreamLogBatchEvent, StreamLogEvent, log_frame_json
from apps.streams.models import ExitReason, StreamJob, StreamRun
from apps.streams.runtime.supervisor import run_stream
from apps.streams.services import stream_job_pause, stream_job_start
from apps.streams.tests.factories import job_with_outputs


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:  # SQLite's shared cache: a writer holds the table
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class RunThread(threading.Thread):
    """The run task's body on a thread, as a thread-pool Celery worker would run it."""

    def __init__(self, run: StreamRun, worker: str = "test-worker") -> None:
        super().__init__(daemon=True)
        self.run_id, self.token, self.worker = run.pk, run.fencing_token, worker
        self.result: str | None = None

    def run(self) -> None:
        try:
            self.result = run_stream(run_id=self.run_id, token=self.token, worker=self.worker)
        finally:
            connections.close_all()


def start_supervised(job: StreamJob) -> RunThread:
    """Supervise the job's current (pending) run on a thread."""
    run = StreamRun.objects.filter(job=job).order_by("-number").first()
    assert run is not None, "start the job first"
    thread = RunThread(run)
    thread.start()
    return thread


def start_and_play(job: StreamJob, seconds: float, timeout: float = 20) -> RunThread:
    """Start the job, supervise it on a thread, and return once its output reached `seconds`."""
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= seconds, timeout)
    return thread


def pause_and_wait(job: StreamJob, thread: RunThread) -> None:
    """Pause the job, wait for its run to end paused, and re-read the job."""
    stream_job_pause(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.PAUSED
    job.refresh_from_db()


@contextlib.contextmanager
def redirecting_server(location: str) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that answers every GET with a redirect to `location`.

    Yields its base URL and the paths it was asked for.
    """
    asked: list[str] = []

    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def h264_file(path: Path, seconds: int = 30) -> Path:
    """A file for a stream copy: testsrc2 at about 1000 kbit/s, with a tone. Write it as
    Matroska: an MP4's `avc1` tag is refused by the FLV slaves of a tee when copied."""
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
            f"testsrc2=size=320x240:rate=25:duration={seconds}", "-f", "lavfi", "-i",
            f"sine=duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
            "-b:v", "1000k", "-minrate", "1000k", "-maxrate", "1000k", "-bufsize", "2000k",
            "-g", "25", "-c:a", "aac", "-b:a", "64k", "-y", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def copy_job(source: Path, *outputs: dict[str, Any]) -> StreamJob:
    """A paced job that copies `source`'s streams to `outputs`, encoding nothing."""
    job = job_with_outputs(*outputs, input_kind="file", input_path=str(source), realtime=True)
    job.profile.video_codec = job.profile.audio_codec = "copy"
    job.profile.save()
    return job


def run_row(job: StreamJob) -> StreamRun:
    run = StreamRun.objects.filter(job=job).order_by("-number").first()
    assert run is not None
    return run


def log_line(job_id: int, n: int) -> StreamLogEvent:
    """Line `n` of run 1 of `job_id`, parsed at second `n`."""
    return {
        "type": "stream.log",
        "job_id": job_id,
        "run_id": 1,
        "at": f"2026-01-01T00:00:{n:02d}+00:00",
        "level": "info",
        "message": f"line {n}",
        "component": None,
        "hint_code": None,
        "hint": None,
        "line": f"[info] line {n}",
    }


def log_burst(job_id: int, first: int, count: int) -> StreamLogBatchEvent:
    """Lines first..first+count-1 as the worker publishes a burst: one stream.log_batch."""
    frames = [log_frame_json(log_line(job_id, n)) for n in range(first, first + count)]
    return {"type": "stream.log_batch", "job_id": job_id, "run_id": 1, "frames": frames}
