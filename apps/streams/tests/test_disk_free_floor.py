"""The free-space floor: a job that writes to a disk with less free space than
CASTCORE_DISK_MIN_FREE_MB is refused at start and stopped while it runs.

The disk is the real one (tens of GB free): the tests raise the floor above what
shutil.disk_usage reports instead of filling it. Running tests use a real
supervisor writing a lavfi test pattern to a file output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.streams import conf
from apps.streams.models import ExitReason, JobState, StreamJob, StreamRun
from apps.streams.quota import MB, RunBudget, quota_breach
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import run_row, start_supervised, wait_until

pytestmark = pytest.mark.django_db

GIB_IN_MB = 1024


def file_job(path: Path, **fields: Any) -> StreamJob:
    return job_with_outputs({"kind": "file", "url": str(path), "stream_key": ""}, **fields)


def free_mb(path: Path) -> int:
    return shutil.disk_usage(path).free // MB


def floor_above_free_space(path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Raise the floor 10 GiB above the free space of `path`'s disk; the floor in MiB."""
    floor = free_mb(path) + 10 * GIB_IN_MB  # what others write or delete meanwhile is far less
    monkeypatch.setattr(conf, "DISK_MIN_FREE_MB", floor)
    return floor


def test_the_floor_is_on_by_default_at_1024_mb() -> None:
    # The value a fresh process reads from an environment without the setting.
    env = {k: v for k, v in os.environ.items() if k != "CASTCORE_DISK_MIN_FREE_MB"}
    env["DJANGO_SETTINGS_MODULE"] = "castcore.settings_test"
    code = (
        "import django; django.setup(); from apps.streams import conf; print(conf.DISK_MIN_FREE_MB)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "1024"


def test_a_start_is_refused_when_the_disk_it_writes_to_is_below_the_floor(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor = floor_above_free_space(tmp_path, monkeypatch)
    job = file_job(tmp_path / "out.mkv")
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 409, response.json()
    error = response.json()["error"]
    assert error["code"] == "stream_job.quota_exceeded" and error["level"] == "error"
    params = error["params"]
    assert set(params) == {"scope", "free_bytes", "min_free_bytes"}  # no folder named
    assert params["scope"] == "free_space" and params["min_free_bytes"] == floor * MB
    assert abs(params["free_bytes"] - shutil.disk_usage(tmp_path).free) < GIB_IN_MB * MB
    assert not StreamRun.objects.filter(job=job).exists()  # no run, no dispatch
    job.refresh_from_db()
    assert job.state == JobState.STOPPED


def test_an_output_folder_not_made_yet_is_checked_on_the_disk_that_will_hold_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor_above_free_space(tmp_path, monkeypatch)
    job = file_job(tmp_path / "not" / "made" / "yet" / "out.mkv")
    breach = quota_breach(job)
    assert breach is not None and breach.params()["scope"] == "free_space"


def test_the_media_root_counts_only_for_a_job_that_records(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # The media root on a filesystem of its own (tmpfs) with less free space than the
    # outputs' and the run folders': a floor between the two stops only a recording job.
    shm = Path("/dev/shm")
    if not shm.is_dir() or free_mb(tmp_path) - free_mb(shm) < 8 * GIB_IN_MB:
        pytest.skip("needs a tmpfs with much less free space than the test folder's disk")
    media = shm / f"castcore-floor-{os.getpid()}-{tmp_path.name}"
    media.mkdir()
    try:
        settings.MEDIA_ROOT = media
        floor = (free_mb(shm) + free_mb(tmp_path)) // 2
        monkeypatch.setattr(conf, "DISK_MIN_FREE_MB", floor)
        quiet = file_job(tmp_path / "quiet.mkv")
        assert quota_breach(quiet) is None
        recording = file_job(tmp_path / "recorded.mkv", recording_enabled=True)
        response = operator_api.post(f"/api/v1/stream-jobs/{recording.pk}/start")
        assert response.status_code == 409, response.json()
        params = response.json()["error"]["params"]
        assert params["scope"] == "free_space" and params["free_bytes"] < floor * MB
    finally:
        shutil.rmtree(media, ignore_errors=True)


def test_a_job_starts_when_its_disk_has_more_free_space_than_the_floor(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "DISK_MIN_FREE_MB", max(free_mb(tmp_path) - 10 * GIB_IN_MB, 1))
    job = file_job(tmp_path / "out.mkv")
    assert operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start").status_code == 200


def test_a_floor_of_zero_turns_the_free_space_check_off(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "DISK_MIN_FREE_MB", 0)
    job = file_job(tmp_path / "out.mkv")
    assert quota_breach(job) is None
    budget = RunBudget(job)
    assert not budget.active  # a run without quotas measures nothing at all
    assert operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_run_claimed_when_its_disk_is_below_the_floor_ends_before_ffmpeg_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started above the floor; the disk filled up before a worker took the run.
    output = tmp_path / "out.mkv"
    job = file_job(output)
    stream_job_start(actor=None, job=job)
    floor_above_free_space(tmp_path, monkeypatch)
    thread = start_supervised(job)
    thread.join(20)
    assert thread.result == ExitReason.QUOTA_EXCEEDED
    run = run_row(job)
    assert run.exit_reason == ExitReason.QUOTA_EXCEEDED and run.pid is None
    assert not output.exists()  # no ffmpeg wrote anything
    job.refresh_from_db()
    assert job.state == JobState.FAILED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_job_stops_when_its_disk_falls_below_the_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.mkv"
    profile = new_profile(video_bitrate_kbps=500, width=320, height=180)
    job = file_job(output, profile=profile, realtime=True, input_width=320, input_height=180)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)  # under the default floor: the machine has room
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 1, 30)
    assert thread.is_alive()

    raised_at = time.monotonic()
    floor = floor_above_free_space(tmp_path, monkeypatch)  # as if the disk filled up now
    thread.join(60)
    assert not thread.is_alive()
    # Checked with each progress block (0.5 s); the stop's grace is 5 s at most.
    assert time.monotonic() - raised_at < 15

    assert thread.result == ExitReason.QUOTA_EXCEEDED
    run = run_row(job)
    assert run.exit_reason == ExitReason.QUOTA_EXCEEDED
    job.refresh_from_db()
    assert (job.state, job.desired_state) == (JobState.FAILED, "stopped")
    [line] = [line for line in run.log_tail if line["hint_code"] == "stream_job.quota_exceeded"]
    assert "below its free-space floor" in line["line"]
    assert f"CASTCORE_DISK_MIN_FREE_MB asks for {floor * MB}" in line["line"]
    assert "ffmpeg was stopped" in line["line"]
    assert output.stat().st_size > 0  # it ran and wrote before the floor was raised
