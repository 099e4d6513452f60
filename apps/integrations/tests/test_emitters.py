"""The apps announce their domain events through castcore.events.emit, where they happen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db.models import F
from rest_framework.test import APIClient

from apps.streams.models import JobState, StreamJob, StreamRun
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def _events(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(event_type=event_type).order_by("id"))


def test_a_job_that_starts_recovers_and_fails_announces_each() -> None:
    from apps.streams.runtime import lease
    from apps.streams.tests.factories import running_job

    job = running_job(lease_left_s=30, name="news")
    run = StreamRun.objects.get(job=job)
    OutboxEvent.objects.all().delete()
    assert lease.set_job_state(run=run, state=JobState.RECONNECTING)
    assert lease.set_job_state(
        run=run, state=JobState.RUNNING, from_states=(JobState.STARTING, JobState.RECONNECTING)
    )
    (recovered,) = _events("stream_job.recovered")
    assert recovered.payload == {
        "stream_job_id": job.pk, "name": "news", "state": "running",
        "previous_state": "reconnecting", "reason": "",
    }  # fmt: skip
    assert recovered.subject == f"stream_job:{job.pk}"
    assert lease.release(run=run, exit_reason="failed", job_state=JobState.FAILED, job_fields={})
    (failed,) = _events("stream_job.failed")
    assert (failed.level, failed.payload["reason"]) == ("error", "failed")
    # A run that no longer holds the job's token changes nothing and announces nothing.
    StreamJob.objects.filter(pk=job.pk).update(fencing_token=F("fencing_token") + 1)
    assert not lease.set_job_state(run=run, state=JobState.RUNNING)
    assert _events("stream_job.started") == []


def test_a_lockout_is_announced(api: APIClient, viewer_user: Any, settings: Any) -> None:
    body = {"username": "viewer", "password": "wrong-password"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/v1/auth/login", body, format="json")
    (lockout,) = _events("auth.lockout")
    assert lockout.payload["username"] == "viewer" and lockout.level == "warning"
    assert "wrong-password" not in str(lockout.payload)


def test_low_disk_is_announced_once_while_it_stays_low(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    import shutil

    from apps.system import conf

    settings.VAR_DIR = tmp_path
    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", free_mb + 1024)
    api.get("/api/v1/system/health")
    api.get("/api/v1/system/health")
    (low,) = _events("system.disk_low")
    assert low.payload["min_free_bytes"] == (free_mb + 1024) * 1024 * 1024
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", 0)
    api.get("/api/v1/system/health")  # back to normal: the next low is news again
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", free_mb + 1024)
    api.get("/api/v1/system/health")
    assert len(_events("system.disk_low")) == 2


def test_an_uploaded_recording_is_announced_ready(admin_user: Any) -> None:
    from apps.recordings.services import recording_create_terminal
    from apps.recordings.tests.factories import upload

    data = upload()
    recording = recording_create_terminal(
        owner=admin_user, upload=data, size=len(data.getvalue()), title="demo"
    )
    (ready,) = _events("recording.ready")
    assert ready.payload["recording_id"] == recording.pk and ready.payload["kind"] == "terminal"
    assert recording.url_token not in str(ready.payload)  # the token of an unlisted recording


def test_a_finished_scan_is_announced(tmp_path: Path) -> None:
    from apps.media.scanning import media_scan_start
    from apps.media.services import media_scan_run
    from apps.media.tests.factories import make_source

    (tmp_path / "lib").mkdir()
    source = make_source(path=str(tmp_path / "lib"))
    scan = media_scan_start(source=source, requested_by=None)
    media_scan_run(scan_id=scan.pk)
    (finished,) = _events("media_scan.finished")
    assert (finished.payload["scan_id"], finished.payload["state"]) == (scan.pk, "done")


def test_every_stop_that_ends_in_stopped_announces_it_once() -> None:
    from apps.streams.services import stream_job_start, stream_job_stop
    from apps.streams.tests.factories import job_with_outputs

    queued = job_with_outputs({})
    stream_job_start(actor=None, job=queued)  # a run no worker has claimed yet
    paused = job_with_outputs({}, state=JobState.PAUSED)
    failed = job_with_outputs({}, state=JobState.FAILED)
    for job in (queued, paused, failed):
        assert stream_job_stop(actor=None, job=job).state == JobState.STOPPED
    stopped = _events("stream_job.stopped")
    assert [(e.payload["stream_job_id"], e.payload["previous_state"]) for e in stopped] == [
        (queued.pk, "starting"),
        (paused.pk, "paused"),
        (failed.pk, "failed"),
    ]
    assert all(e.subject == f"stream_job:{e.payload['stream_job_id']}" for e in stopped)
    for job in (queued, paused, failed):  # already stopped: nothing happens, nothing is said
        stream_job_stop(actor=None, job=job)
    assert len(_events("stream_job.stopped")) == 3


def test_a_job_a_worker_runs_is_announced_stopped_by_the_worker_not_by_the_request() -> None:
    from apps.streams.runtime import lease
    from apps.streams.services import stream_job_stop
    from apps.streams.tests.factories import running_job

    job = running_job(lease_left_s=30)
    assert stream_job_stop(actor=None, job=job).state == JobState.STOPPING
    assert _events("stream_job.stopped") == []  # ffmpeg still runs until its worker stops it
    run = StreamRun.objects.get(job=job)
    assert lease.release(run=run, exit_reason="stopped", job_state=JobState.STOPPED, job_fields={})
    (stopped,) = _events("stream_job.stopped")
    assert stopped.payload["previous_state"] == "stopping"
