"""A run's folder (helper files, recording segments) is removed when the run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.recordings.models import Recording
from apps.streams.models import ExitReason, RunState, StreamJob
from apps.streams.runtime.workdir import run_workdir, unsaved_recordings_dir
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_supervised, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def recorded_job(**fields: Any) -> StreamJob:
    return job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""},
        recording_enabled=True,
        **fields,
    )


def run_until_recorded_then_stop(job: StreamJob) -> Path:
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    run = wait_until(lambda: (r := run_row(job)).state == RunState.RUNNING and r)
    workdir = run_workdir(job.pk, run.number)
    segment = workdir / "recording-001.mkv"
    wait_until(lambda: segment.is_file() and segment.stat().st_size > 0)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED
    return workdir


def test_the_workdir_is_removed_when_the_run_ends(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    job = recorded_job()
    workdir = run_until_recorded_then_stop(job)

    assert not workdir.exists() and not workdir.parent.exists()
    assert Recording.objects.filter(stream_job_id=job.pk).count() == 1  # moved out first


def test_a_recording_that_cannot_be_saved_is_kept_aside(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    job = recorded_job(owner=None, created_by=None)  # no owner: no recording row
    workdir = run_until_recorded_then_stop(job)

    assert not workdir.exists()
    kept = list(unsaved_recordings_dir().glob(f"job-{job.pk}-run-1-recording-*.mkv"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert not Recording.objects.filter(stream_job_id=job.pk).exists()
