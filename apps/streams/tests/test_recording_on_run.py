"""A job with recording on writes a file that becomes a video recording when the run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.recordings.models import Recording
from apps.streams.models import ExitReason, RunState, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop, stream_job_update
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_and_play, start_supervised, wait_until
from castcore.api.errors import ApiError
from workers.ffmpeg.probe import probe


@pytest.mark.django_db
def test_the_toggle_sets_recording_for_the_next_process(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    response = operator_api.post(
        f"/api/v1/stream-jobs/{job.pk}/recording", {"enabled": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["recording_enabled"] is True
    assert response.json()["applies"] == "next_start"  # the job is not running
    assert StreamJob.objects.get(pk=job.pk).recording_enabled
    again = operator_api.post(
        f"/api/v1/stream-jobs/{job.pk}/recording", {"enabled": True}, format="json"
    )
    assert again.json()["applies"] == "unchanged"
    bad = operator_api.post(
        f"/api/v1/stream-jobs/{job.pk}/recording", {"enabled": "maybe"}, format="json"
    )
    assert bad.status_code == 400


@pytest.mark.django_db
def test_viewers_cannot_toggle_recording(viewer_api: APIClient) -> None:
    job = job_with_outputs({})
    assert (
        viewer_api.post(
            f"/api/v1/stream-jobs/{job.pk}/recording", {"enabled": True}, format="json"
        ).status_code
        == 403
    )


@pytest.mark.django_db
def test_a_job_that_records_needs_no_output_of_its_own_and_one_that_does_not_does() -> None:
    job = job_with_outputs(recording_enabled=True)
    stream_job_update(actor=None, job=job, outputs=[], name="records only")
    stream_job_start(actor=None, job=job)  # the recording is its output
    assert StreamJob.objects.get(pk=job.pk).desired_state == "running"
    stream_job_stop(actor=None, job=job)

    bare = job_with_outputs(recording_enabled=False)
    with pytest.raises(ApiError) as refused:
        stream_job_update(actor=None, job=bare, outputs=[], name="nothing to write")
    assert refused.value.code == "validation.out_of_range"
    assert refused.value.params["field"] == "outputs"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_recorded_run_becomes_a_video_recording() -> None:
    job = job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}, recording_enabled=True
    )
    thread = start_and_play(job, 2.0)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED

    recording = Recording.objects.get(stream_job_id=job.pk)
    assert recording.kind == Recording.Kind.VIDEO and recording.owner == job.owner
    assert recording.duration >= 1.5 and recording.has_video and recording.has_audio
    assert run_row(job).recording


def toggle(api: APIClient, job: StreamJob, enabled: bool) -> Any:
    response = api.post(
        f"/api/v1/stream-jobs/{job.pk}/recording", {"enabled": enabled}, format="json"
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_recording_toggled_on_and_off_mid_run_makes_a_playable_recording(
    operator_api: APIClient, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    job = job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""})
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    first = wait_until(lambda: (r := run_row(job)).state == RunState.RUNNING and r.pid and r)
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 1.0)

    assert toggle(operator_api, job, True)["applies"] == "restarted"
    # Same run, new ffmpeg process, now with the recording output.
    run = wait_until(lambda: (r := run_row(job)).recording and r.pid != first.pid and r)
    assert run.pk == first.pk and run.reconnect_count == 0
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 2.5, timeout=20)
    assert not Recording.objects.filter(stream_job_id=job.pk).exists()

    assert toggle(operator_api, job, False)["applies"] == "restarted"
    # The file ends with its process: the recording row appears while the job runs on.
    recording = wait_until(lambda: Recording.objects.filter(stream_job_id=job.pk).first())
    wait_until(lambda: not run_row(job).recording and run_row(job).state == RunState.RUNNING)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED

    assert Recording.objects.filter(stream_job_id=job.pk).count() == 1
    info = probe(Path(settings.MEDIA_ROOT) / recording.file.name, timeout=30)
    assert info.has_video and info.audio_streams
    assert info.duration is not None and 1.5 <= info.duration <= 15
    assert recording.duration >= 1.5 and recording.owner == job.owner
