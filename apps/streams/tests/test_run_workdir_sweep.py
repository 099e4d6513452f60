"""Run folders a dead worker left behind are settled by a sweep on their host: recordings kept."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.recordings.models import Recording
from apps.streams import conf
from apps.streams.models import ExitReason, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs, sweep_run_workdirs
from apps.streams.runtime.workdir import run_workdir, sweep_lock, unsaved_recordings_dir
from apps.streams.tests.factories import job_with_outputs
from workers.ffmpeg.testing import make_video

pytestmark = pytest.mark.django_db

GRACE = conf.LEASE_SECONDS + conf.STOP_GRACE_SECONDS  # as the conftest sets them


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def left_folder(run: StreamRun, *, recording: bool = False, age_s: float = 60.0) -> Path:
    """A run folder as a killed worker leaves it: a helper file and perhaps a recording."""
    folder = run_workdir(run.job_id, run.number)
    folder.mkdir(parents=True)
    (folder / "playlist.txt").write_text("file '/private/path/show.mkv'\n")
    if recording:
        make_video(folder / "recording-001.mkv", seconds=1.0)
    then = time.time() - age_s
    for entry in (folder, *folder.iterdir()):
        os.utime(entry, (then, then))
    return folder


def run_of(job: StreamJob, number: int, state: str, ended_s_ago: float | None = None) -> StreamRun:
    ended_at = timezone.now() - timedelta(seconds=ended_s_ago) if ended_s_ago else None
    exit_reason = ExitReason.LEASE_LOST if state == RunState.ENDED else ""
    return StreamRun.objects.create(
        job=job, number=number, fencing_token=number, state=state,
        ended_at=ended_at, exit_reason=exit_reason,
    )  # fmt: skip


def test_a_dead_workers_folder_is_removed_and_its_recording_becomes_a_recording() -> None:
    job = job_with_outputs()
    run = run_of(job, 1, RunState.ENDED, ended_s_ago=GRACE + 30)
    folder = left_folder(run, recording=True)

    assert sweep_run_workdirs() == [f"job-{job.pk}/run-1"]

    assert not folder.exists() and not folder.parent.exists()
    recording = Recording.objects.get(stream_job_id=job.pk)
    assert recording.title == f"{job.name} — run 1" and recording.duration > 0.5
    assert Path(recording.file.path).is_file()


def test_folders_still_in_use_or_just_ended_are_left_alone() -> None:
    job = job_with_outputs()
    running = left_folder(run_of(job, 1, RunState.RUNNING))
    just_ended = left_folder(run_of(job, 2, RunState.ENDED, ended_s_ago=1.0))
    # Ended long ago by the database's clock, but something still writes in it.
    written = left_folder(run_of(job, 3, RunState.ENDED, ended_s_ago=GRACE + 30), age_s=0.0)

    assert sweep_run_workdirs() == []

    assert running.is_dir() and just_ended.is_dir() and written.is_dir()
    assert not Recording.objects.exists()


def test_a_deleted_jobs_folder_goes_once_quiet_and_its_recording_is_kept_aside() -> None:
    job = job_with_outputs()
    run = run_of(job, 1, RunState.RUNNING)
    folder = left_folder(run, recording=True)
    job_id = job.pk
    job.delete()  # the runs go with it

    assert sweep_run_workdirs() == [f"job-{job_id}/run-1"]

    assert not folder.exists()
    kept = list(unsaved_recordings_dir().glob(f"job-{job_id}-run-1-recording-001.mkv"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0


def test_foreign_names_under_runs_are_ignored(settings: Any) -> None:
    stray = Path(settings.VAR_DIR) / "runs" / "job-x" / "run-1"
    stray.mkdir(parents=True)
    then = time.time() - 600
    os.utime(stray, (then, then))

    assert sweep_run_workdirs() == []
    assert stray.is_dir()


def test_one_process_of_a_host_sweeps_at_a_time_and_the_others_skip() -> None:
    job = job_with_outputs()
    folder = left_folder(run_of(job, 1, RunState.ENDED, ended_s_ago=GRACE + 30), recording=True)

    with sweep_lock() as held:  # another worker process of this host, mid-sweep
        assert held
        assert sweep_run_workdirs() == []
        assert folder.is_dir() and not Recording.objects.exists()

    assert sweep_run_workdirs() == [f"job-{job.pk}/run-1"]
    assert Recording.objects.count() == 1


def test_the_reconciler_leaves_folders_to_the_workers_of_their_host() -> None:
    # Beat's reconciler may run on a host that holds none of these folders.
    job = job_with_outputs()
    folder = left_folder(run_of(job, 1, RunState.ENDED, ended_s_ago=GRACE + 30))

    reconcile_runs()

    assert folder.is_dir()


def test_runs_that_cannot_be_locked_are_not_swept_with_a_warning(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Path(settings.VAR_DIR) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / ".sweep.lock").mkdir()  # not a file anyone can open to lock

    assert sweep_run_workdirs() == []
    assert "run folders not swept: cannot lock" in caplog.text
