"""A run whose lease expired is reported `lost`, never `running`, even with no worker alive to
reconcile it: in status, detail, list (and its state filter), and on the status socket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.models import JobState, RunState, StreamJob, StreamRun
from apps.streams.tests.factories import running_job
from castcore.asgi import application

HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@pytest.mark.django_db
def test_status_detail_and_list_report_lost_for_an_expired_lease(viewer_api: APIClient) -> None:
    lost = running_job(lease_left_s=-1, name="lost")
    alive = running_job(lease_left_s=60, name="alive")

    status = viewer_api.get(f"/api/v1/stream-jobs/{lost.pk}/status").json()
    assert status["state"] == "lost"
    # Nothing is known to run: no stale figures, uptime or reconnects, and no health.
    assert status["fps"] is None and status["uptime_s"] is None and status["health"] == 0
    assert viewer_api.get(f"/api/v1/stream-jobs/{lost.pk}").json()["state"] == "lost"
    listed = {
        job["name"]: job["state"] for job in viewer_api.get("/api/v1/stream-jobs").json()["items"]
    }
    assert listed == {"lost": "lost", "alive": "running"}

    assert viewer_api.get(f"/api/v1/stream-jobs/{alive.pk}/status").json()["state"] == "running"
    assert viewer_api.get(f"/api/v1/stream-jobs/{alive.pk}").json()["state"] == "running"


@pytest.mark.django_db
def test_the_state_filter_follows_the_reported_state(viewer_api: APIClient) -> None:
    running_job(lease_left_s=-1, name="lost")
    running_job(lease_left_s=60, name="alive")

    def names(state: str) -> list[str]:
        body = viewer_api.get(f"/api/v1/stream-jobs?state={state}").json()
        return [job["name"] for job in body["items"]]

    assert names("running") == ["alive"]
    assert names("lost") == ["lost"]
    assert names("stopped") == []


@pytest.mark.django_db
def test_the_runs_list_reports_the_current_run_lost_as_its_job(
    viewer_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    lost = running_job(lease_left_s=-1, name="lost")
    alive = running_job(lease_left_s=60, name="alive")
    # An older run of the lost job, ended (and its lease long gone): it stays ended.
    StreamRun.objects.create(
        job=lost, number=0, fencing_token=0, state=RunState.ENDED,
        lease_expires_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip

    def run_states(job: StreamJob) -> list[tuple[int, str]]:
        body = viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/runs").json()
        return [(run["number"], run["state"]) for run in body["items"]]

    current = lost.current_run
    assert current is not None
    assert run_states(lost) == [(current.number, "lost"), (0, "ended")]
    assert viewer_api.get(f"/api/v1/stream-jobs/{lost.pk}").json()["state"] == "lost"
    assert run_states(alive) == [(alive.runs.get().number, "running")]
    with django_assert_max_num_queries(8):  # the job's runs are read with it, not one by one
        run_states(lost)


@pytest.mark.django_db
def test_a_job_reported_lost_becomes_whatever_the_reconciler_settles() -> None:
    from apps.streams.runtime.reconcile import reconcile_runs
    from apps.streams.status import status_event

    job = running_job(lease_left_s=-1)
    assert status_event(job)["state"] == "lost"
    reconcile_runs()  # restarts it (budget left): a new pending run, no lease yet
    job.refresh_from_db()
    assert status_event(job)["state"] == JobState.STARTING


def socket(user: Any) -> WebsocketCommunicator:
    path = f"/api/v1/ws/status?token={AccessToken.for_user(user)}"
    return WebsocketCommunicator(application, path, headers=HEADERS)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_status_socket_says_lost_once_the_lease_expires_with_no_worker_alive() -> None:
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    lost = await sync_to_async(running_job)(lease_left_s=-1, name="lost")
    expiring = await sync_to_async(running_job)(lease_left_s=1.5, name="expiring")
    ws = socket(viewer)
    assert (await ws.connect())[0]
    snapshot = await ws.receive_json_from(timeout=3)
    states = {job["job_id"]: job["state"] for job in snapshot["jobs"]}
    assert states == {lost.pk: "lost", expiring.pk: "running"}

    # Nobody publishes anything for this job: the web process notices its lease expire.
    # (A job lost before the socket opened may be said again: the snapshot said it.)
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["job_id"] != expiring.pk:
        frames.append(await ws.receive_json_from(timeout=10))
    assert {(f["type"], f["job_id"], f["state"]) for f in frames} <= {
        ("status", lost.pk, "lost"),
        ("status", expiring.pk, "lost"),
    }
    assert frames[-1]["fps"] is None
    assert await ws.receive_nothing(timeout=1.5)  # said once, not every interval
    await ws.disconnect()
