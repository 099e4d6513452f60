"""Pause keeps the place of a file input; the next start continues from there (-ss)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.streams.models import ExitReason, JobState, RunState, StreamJob
from apps.streams.preview import preview
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import (
    pause_and_wait,
    run_row,
    start_and_play,
    start_supervised,
    wait_until,
)
from workers.ffmpeg.testing import make_video

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_pause_records_the_position_and_start_resumes_from_it(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=30, size=(160, 120))
    job = job_with_outputs(
        {"kind": "file", "url": str(tmp_path / "out.mkv"), "stream_key": ""},
        input_kind="file",
        input_path=str(clip),
        realtime=True,
    )
    pause_and_wait(job, start_and_play(job, 2.0))
    assert job.state == JobState.PAUSED and job.desired_state == "paused"
    assert 2.0 <= job.resume_position_s < 10.0

    argv = preview(job)["argv"]
    assert argv[argv.index("-ss") + 1] == f"{job.resume_position_s:.3f}"
    stream_job_start(actor=None, job=job)
    second = run_row(job)
    assert second.number == 2 and second.start_offset_s == job.resume_position_s
    thread = start_supervised(job)
    wait_until(lambda: run_row(job).state == RunState.RUNNING)
    stream_job_stop(actor=None, job=job)
    thread.join(15)
    job.refresh_from_db()
    assert job.state == JobState.STOPPED and job.resume_position_s == 0.0


def test_a_finite_input_that_ends_stops_the_job(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "short.mp4", seconds=1)
    job = job_with_outputs(
        {"kind": "file", "url": str(tmp_path / "out.mkv"), "stream_key": ""},
        input_kind="file",
        input_path=str(clip),
        realtime=False,
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    thread.join(20)
    assert thread.result == ExitReason.COMPLETED
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STOPPED
    assert (tmp_path / "out.mkv").stat().st_size > 0
