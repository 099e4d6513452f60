"""Start, stop, restart and pause through the API: compare-and-set rules and their codes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from kombu.simple import SimpleQueue
from rest_framework.test import APIClient

from apps.streams.models import DesiredState, ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.tests.factories import job_with_outputs
from castcore.celery import app

pytestmark = pytest.mark.django_db

KEY = "live_1234567890_secretkey"


def test_start_creates_one_pending_run_and_is_idempotent(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    first = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert first.status_code == 200 and first.json()["state"] == "starting"
    again = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert again.status_code == 200 and again.json()["state"] == "starting"
    run = StreamRun.objects.get(job=job)
    assert run.state == RunState.PENDING and run.number == 1
    job.refresh_from_db()
    assert run.fencing_token == job.fencing_token == 1 and job.desired_state == DesiredState.RUNNING


def test_a_start_reads_the_profile_and_outputs_once(operator_api: APIClient) -> None:
    # A start's queries come before the worker's message or compete with its claim: the
    # response and the announcement use the rows the view loaded and the state it wrote.
    job = job_with_outputs({})
    with (
        CaptureQueriesContext(connection) as queries,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 200 and response.json()["state"] == "starting"
    assert response.json()["outputs"] and response.json()["profile"] == job.profile_id
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    reads = [sql.split(" FROM ")[1].split()[0] for sql in selects]
    assert reads.count('"streams_ffmpegprofile"') <= 1  # joined to the job by get_object
    assert reads.count('"streams_streamoutput"') == 1
    assert '"media_storagesource"' not in reads  # input roots matter to file inputs only
    # get_object only: the UPDATE returns the new token and the last run's number, and
    # the state is what the transaction wrote
    assert reads.count('"streams_streamjob"') == 1, reads
    assert sum(1 for q in queries if q["sql"].lstrip().startswith("UPDATE")) == 1
    job.refresh_from_db()
    body = response.json()
    assert (body["state"], body["desired_state"], body["resume_position_s"]) == (
        job.state, job.desired_state, job.resume_position_s,
    )  # fmt: skip


def test_start_dispatches_only_ids_on_the_ffmpeg_queue(operator_api: APIClient) -> None:
    job = job_with_outputs({"stream_key": KEY})
    with app.connection_for_write() as conn:
        queue = SimpleQueue(conn, "ffmpeg")
        queue.clear()
        with TestCase.captureOnCommitCallbacks(execute=True):
            operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
        message = queue.get(timeout=5)
        message.ack()
        queue.close()
    run = StreamRun.objects.get(job=job)
    assert message.headers["task"] == "workers.stream_jobs.run_stream_job"
    assert message.decode()[0] == [run.pk, run.fencing_token]
    assert KEY not in str(message.body)


def test_stopping_a_stopped_job_is_a_no_op(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop")
    assert response.status_code == 200 and response.json()["state"] == "stopped"
    assert not StreamRun.objects.exists()


def test_pausing_a_stopped_job_is_a_conflict_with_a_code(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/pause")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "stream_job.invalid_transition",
        "params": {"from": "stopped", "to": "paused"},
        "level": "error",
    }


def test_restarting_a_stopped_job_is_a_conflict(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/restart")
    assert response.status_code == 409
    assert response.json()["error"]["params"] == {"from": "stopped", "to": "restarting"}


def test_starting_a_stopping_job_is_a_conflict(operator_api: APIClient) -> None:
    job = job_with_outputs({}, state=JobState.STOPPING)
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 409
    assert response.json()["error"]["params"] == {"from": "stopping", "to": "running"}


def test_stop_before_any_worker_claimed_stops_at_once(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop")
    assert response.json()["state"] == "stopped"
    run = StreamRun.objects.get(job=job)
    assert run.state == RunState.ENDED and run.exit_reason == ExitReason.STOPPED


def test_stop_of_a_running_job_asks_the_worker(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    StreamRun.objects.filter(job=job).update(state=RunState.RUNNING)  # as if a worker claimed it
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop")
    assert response.json()["state"] == "stopping" and response.json()["desired_state"] == "stopped"


def test_restart_supersedes_the_current_run(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/restart")
    assert response.status_code == 200
    first, second = StreamRun.objects.filter(job=job).order_by("number")
    assert first.exit_reason == ExitReason.SUPERSEDED and second.state == RunState.PENDING
    assert second.fencing_token == first.fencing_token + 1


def test_start_refuses_a_job_with_every_output_disabled(operator_api: APIClient) -> None:
    job = job_with_outputs({"enabled": False})
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "spec.no_enabled_outputs"
    job.refresh_from_db()
    assert job.state == JobState.STOPPED and not StreamRun.objects.exists()


def test_viewers_cannot_control_jobs(viewer_api: APIClient) -> None:
    job = job_with_outputs({})
    for verb in ("start", "stop", "restart", "pause"):
        assert viewer_api.post(f"/api/v1/stream-jobs/{job.pk}/{verb}").status_code == 403


def test_start_announces_the_committed_state_with_its_new_run(operator_api: APIClient) -> None:
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from apps.streams.events import STATUS_GROUP

    job = job_with_outputs({})

    def start() -> None:
        with TestCase.captureOnCommitCallbacks(execute=True):
            operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")

    async def announced() -> dict[str, object]:
        # One event loop throughout: the Redis layer keeps its channels per loop.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(STATUS_GROUP, channel)
        try:
            await sync_to_async(start)()
            return dict(await asyncio.wait_for(layer.receive(channel), 5))
        finally:
            await layer.group_discard(STATUS_GROUP, channel)

    event = async_to_sync(announced)()
    run = StreamRun.objects.get(job=job)
    assert (event["type"], event["job_id"], event["state"]) == ("stream.status", job.pk, "starting")
    assert event["run_id"] == run.pk


def test_a_failed_announcement_does_not_fail_the_committed_change(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from apps.streams.services import control

    def broken(job: object) -> None:
        raise RuntimeError("the status read failed")

    job = job_with_outputs({})
    operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    monkeypatch.setattr(control, "status_event", broken)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop")
    assert response.status_code == 200 and response.json()["state"] == "stopped"
    job.refresh_from_db()
    assert job.state == JobState.STOPPED
    assert "could not announce the state of stream job" in caplog.text


def test_run_numbers_go_on_from_runs_the_counter_missed(operator_api: APIClient) -> None:
    # Runs made before jobs counted them (migration 0005), or by a process of the
    # older code while a deployment migrates.
    job = job_with_outputs({})
    for number in (1, 4):
        StreamRun.objects.create(job=job, number=number, fencing_token=number)
    StreamJob.objects.filter(pk=job.pk).update(fencing_token=4)
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert response.status_code == 200
    assert StreamRun.objects.get(job=job, fencing_token=5).number == 5
    assert StreamJob.objects.get(pk=job.pk).last_run_number == 5
