"""Disk quotas: a start over the job's or the instance's quota is refused; a run reaching one ends.

The running tests use a real supervisor writing a lavfi test pattern to a file
output; the job sets `realtime` itself, so nothing depends on the default pacing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.recordings.services import recording_create_video
from apps.recordings.tests.factories import VideoRecordingFactory, a_user
from apps.streams import conf
from apps.streams.models import ExitReason, JobState, StreamJob, StreamRun
from apps.streams.quota import MB
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import run_row, start_supervised
from workers.ffmpeg.tests.test_playable import make_engine_recording
from workers.recordings import make_recording_playable
from workers.stream_jobs import autostart_stream_jobs

pytestmark = pytest.mark.django_db


def file_job(path: Path, **fields: Any) -> StreamJob:
    return job_with_outputs({"kind": "file", "url": str(path), "stream_key": ""}, **fields)


def fill(path: Path, size: int) -> Path:
    path.write_bytes(b"\0" * size)
    return path


def refused(api: APIClient, job: StreamJob) -> dict[str, Any]:
    response = api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 409, response.json()
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "stream_job.quota_exceeded" and error["level"] == "error"
    assert not StreamRun.objects.filter(job=job).exists()  # no run, no dispatch
    job.refresh_from_db()
    assert job.state == JobState.STOPPED
    return error


def test_a_job_whose_output_already_fills_its_quota_is_refused_before_start(
    operator_api: APIClient, tmp_path: Path
) -> None:
    job = file_job(fill(tmp_path / "out.mkv", 2 * MB), disk_quota_mb=1)
    error = refused(operator_api, job)
    assert error["params"] == {"scope": "job", "used_bytes": 2 * MB, "quota_bytes": MB}


def test_the_recordings_of_a_job_count_against_its_quota(
    operator_api: APIClient, tmp_path: Path
) -> None:
    job = file_job(tmp_path / "out.mkv", disk_quota_mb=1)
    VideoRecordingFactory(stream_job_id=job.pk, size=MB)
    assert refused(operator_api, job)["params"]["used_bytes"] == MB


def test_a_videos_playable_copy_and_poster_count_against_the_quotas(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = file_job(tmp_path / "out.mkv", disk_quota_mb=1)
    # Half the quota in the original, the other half in what was made for browsers.
    VideoRecordingFactory(
        stream_job_id=job.pk, size=MB // 2, playable_size=MB // 2 - 1000, poster_size=1000
    )
    assert refused(operator_api, job)["params"]["used_bytes"] == MB

    StreamJob.objects.filter(pk=job.pk).update(disk_quota_mb=None)
    monkeypatch.setattr(conf, "DISK_QUOTA_MB", 1)
    error = refused(operator_api, job)
    assert error["params"] == {"scope": "instance", "used_bytes": MB, "quota_bytes": MB}


@pytest.mark.slow
def test_the_quota_counts_every_file_a_real_video_recording_holds(
    operator_api: APIClient, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    output = tmp_path / "out.mkv"
    job = file_job(output, disk_quota_mb=1)
    engine_file = make_engine_recording(tmp_path / "run" / "recording-000.mkv")
    recording = recording_create_video(
        owner=a_user(), file_path=engine_file, title="run 1", stream_job_id=job.pk
    )
    make_recording_playable(recording.pk)  # the task as a worker runs it: real ffmpeg
    recording.refresh_from_db()
    files = [Path(settings.MEDIA_ROOT) / name for name in recording.stored_names]
    assert len(files) == 3  # the original, its playable copy and its poster
    on_disk = sum(path.stat().st_size for path in files)
    assert recording.stored_bytes == on_disk  # each file's size stored as it was made

    # The output fills exactly what the recording's three files leave of the quota.
    fill(output, MB - on_disk)
    assert refused(operator_api, job)["params"]["used_bytes"] == MB


def test_a_start_is_refused_when_the_instance_quota_is_used(
    operator_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "DISK_QUOTA_MB", 2)
    file_job(fill(tmp_path / "other.mkv", MB))  # another job's output
    VideoRecordingFactory(size=MB)
    job = file_job(tmp_path / "out.mkv")
    error = refused(operator_api, job)
    assert error["params"]["scope"] == "instance" and error["params"]["quota_bytes"] == 2 * MB
    assert error["params"]["used_bytes"] >= 2 * MB


def test_autostart_skips_a_job_over_its_quota_and_starts_the_others(tmp_path: Path) -> None:
    full = file_job(fill(tmp_path / "full.mkv", 2 * MB), disk_quota_mb=1, autostart=True)
    fine = file_job(tmp_path / "fine.mkv", autostart=True)
    assert autostart_stream_jobs() == [fine.pk]
    full.refresh_from_db()
    fine.refresh_from_db()
    assert (full.state, fine.state) == (JobState.STOPPED, JobState.STARTING)


def test_a_job_under_its_quota_starts(operator_api: APIClient, tmp_path: Path) -> None:
    job = file_job(fill(tmp_path / "out.mkv", MB // 2), disk_quota_mb=1)
    assert operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start").status_code == 200


def test_the_quota_is_part_of_the_job_api(operator_api: APIClient, tmp_path: Path) -> None:
    job = file_job(tmp_path / "out.mkv")
    url = f"/api/v1/stream-jobs/{job.pk}"
    assert operator_api.get(url).json()["disk_quota_mb"] is None
    response = operator_api.patch(url, {"disk_quota_mb": 5}, format="json")
    assert response.status_code == 200 and response.json()["disk_quota_mb"] == 5
    for bad_value in (-1, 0):  # no limit is null; 0 would refuse every start
        bad = operator_api.patch(url, {"disk_quota_mb": bad_value}, format="json")
        assert bad.status_code == 400
        assert bad.json()["error"]["params"]["field"] == "disk_quota_mb"


@pytest.mark.django_db(transaction=True)
def test_a_run_over_the_quota_when_a_worker_claims_it_ends_before_ffmpeg_starts(
    tmp_path: Path,
) -> None:
    # Started under the quota; the file filled up before a worker took the run (as when
    # the reconciler restarts a run whose worker died).
    output = tmp_path / "out.mkv"
    job = file_job(output, disk_quota_mb=1)
    stream_job_start(actor=None, job=job)
    fill(output, 2 * MB)
    thread = start_supervised(job)
    thread.join(20)
    assert thread.result == ExitReason.QUOTA_EXCEEDED
    run = run_row(job)
    assert run.exit_reason == ExitReason.QUOTA_EXCEEDED and run.pid is None
    assert output.stat().st_size == 2 * MB  # no ffmpeg opened (and overwrote) it
    job.refresh_from_db()
    assert job.state == JobState.FAILED


# A run reaches 1 MiB within a few seconds at 2 Mbit/s (paced); checks run with each
# progress block (0.5 s), so it may pass it by what half a second and the stop add.
MARGIN = MB // 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scope", ["job", "instance"])
def test_a_run_that_reaches_the_quota_ends_with_quota_exceeded(
    scope: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.mkv"
    profile = new_profile(video_bitrate_kbps=2000, width=640, height=360)
    job = file_job(output, profile=profile, realtime=True, input_width=640, input_height=360)
    if scope == "job":
        StreamJob.objects.filter(pk=job.pk).update(disk_quota_mb=1)
        job.refresh_from_db()
    else:
        monkeypatch.setattr(conf, "DISK_QUOTA_MB", 1)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    thread.join(60)
    assert not thread.is_alive()

    assert thread.result == ExitReason.QUOTA_EXCEEDED
    run = run_row(job)
    assert run.exit_reason == ExitReason.QUOTA_EXCEEDED
    job.refresh_from_db()
    assert (job.state, job.desired_state) == (JobState.FAILED, "stopped")
    [line] = [line for line in run.log_tail if line["hint_code"] == "stream_job.quota_exceeded"]
    assert f"The {scope} disk quota is reached" in line["line"]
    size = output.stat().st_size
    assert MB <= size <= MB + MARGIN, size
    assert run.last_stats["out_time_s"] > 0  # the figures it ended with are kept
