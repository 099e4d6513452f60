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


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Any:
    """Set the low-space threshold relative to the real free space of tmp_path's disk."""
    import shutil

    from django.core.cache import cache

    from apps.system import conf
    from apps.system.services import DISK_LOW_KEY

    settings.VAR_DIR = tmp_path
    cache.delete(DISK_LOW_KEY)  # another test's state, in a shared Redis

    def threshold_mb(above_free_mb: int) -> int:
        free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
        monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", max(free_mb + above_free_mb, 0))
        return int(conf.HEALTH_MIN_FREE_MB)

    yield threshold_mb
    cache.delete(DISK_LOW_KEY)


def test_low_disk_is_announced_by_the_periodic_check_once_per_crossing(disk: Any) -> None:
    from workers.system import watch_disk_space

    threshold = disk(1024)  # a GiB more than there is: low
    assert watch_disk_space() == "low"
    assert watch_disk_space() is None  # still low: already said
    (low,) = _events("system.disk_low")
    assert low.payload["min_free_bytes"] == threshold * 1024 * 1024
    assert low.payload["free_bytes"] < low.payload["min_free_bytes"] and low.payload["folders"]
    disk(-1)  # just above the threshold, not above it by the margin: still not news
    assert watch_disk_space() is None
    disk(-1024 * 1024 * 1024)  # threshold 0: plenty of room again
    assert watch_disk_space() == "recovered"
    assert watch_disk_space() is None
    (recovered,) = _events("system.disk_recovered")
    assert recovered.level == "info" and recovered.subject == "system:disk"
    disk(1024)  # and the next fall is news again
    assert watch_disk_space() == "low"
    assert len(_events("system.disk_low")) == 2


def test_reading_the_health_endpoint_announces_nothing(api: APIClient, disk: Any) -> None:
    disk(1024)
    body = api.get("/api/v1/system/health").json()
    assert "disk" in body["warnings"]
    assert _events("system.disk_low") == []  # the periodic check's job alone


def test_beat_runs_the_disk_check(settings: Any) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "workers.system.watch_disk_space" in tasks


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
