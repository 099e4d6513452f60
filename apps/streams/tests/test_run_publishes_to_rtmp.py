"""A started job publishes a real stream to nginx-rtmp; stop ends it cleanly."""

from __future__ import annotations

import json
import subprocess

import psutil
import pytest

from apps.streams.models import ExitReason, JobState, RunState, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_supervised, wait_until
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def ffprobe_streams(url: str) -> list[dict[str, object]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["streams"])


def test_it_publishes_a_stream_that_ffprobe_can_read(rtmp_server: RtmpServer) -> None:
    job = job_with_outputs({"url": rtmp_server.app_url, "stream_key": "goodkey"})
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING)
    wait_until(lambda: run_row(job).last_stats.get("frames"), timeout=15)

    streams = ffprobe_streams(rtmp_server.publish_url("goodkey"))
    assert {s["codec_name"] for s in streams} == {"h264", "aac"}
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (320, 240)

    run = run_row(job)
    assert run.state == RunState.RUNNING and run.worker == "test-worker"
    assert psutil.pid_exists(run.pid) and run.pgid == run.pid

    stream_job_stop(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.STOPPED
    run.refresh_from_db()
    assert run.state == RunState.ENDED and run.exit_reason == ExitReason.STOPPED and run.ended_at
    assert (
        not psutil.pid_exists(run.pid) or psutil.Process(run.pid).status() == psutil.STATUS_ZOMBIE
    )
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STOPPED
    assert "goodkey" not in json.dumps(run.log_tail)
