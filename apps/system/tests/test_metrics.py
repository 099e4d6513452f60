"""GET /api/v1/system/metrics: Prometheus text built from job, run and heartbeat rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.accounts.services import api_token_create
from apps.streams.models import JobState, RunState, StreamRun
from apps.streams.tests.factories import StreamJobFactory
from apps.system.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db
URL = "/api/v1/system/metrics"
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def run_for(job: Any, number: int, *, state: str, **fields: Any) -> StreamRun:
    return StreamRun.objects.create(
        job=job,
        number=number,
        fencing_token=number,
        state=state,
        started_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def seeded() -> Any:
    live = StreamJobFactory(name="Main feed", state=JobState.RUNNING, fencing_token=3)
    run_for(live, 1, state=RunState.ENDED)
    run_for(live, 2, state=RunState.ENDED)
    stats = {"fps": 24.5, "bitrate_kbps": 812.5, "speed": 0.98, "frames": 1000, "drops": 0}
    run_for(live, 3, state=RunState.RUNNING, last_stats=stats, reconnect_count=2)
    StreamJobFactory(name="Idle", state=JobState.STOPPED)
    StreamJobFactory(name="Broken", state=JobState.FAILED)
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname="celery@a",
        pid=1,
        queues=["ffmpeg"],
        started_at=now,
        last_seen=now - timedelta(seconds=42),
    )
    return live


def test_it_reports_job_counts_figures_and_heartbeats(viewer_api: APIClient, seeded: Any) -> None:
    response = viewer_api.get(URL, HTTP_ACCEPT=PROMETHEUS_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content)
    job = (("job", "Main feed"), ("job_id", str(seeded.pk)))
    assert found[("castcore_stream_jobs", (("state", "running"),))] == 1
    assert found[("castcore_stream_jobs", (("state", "stopped"),))] == 1
    assert found[("castcore_stream_jobs", (("state", "failed"),))] == 1
    assert found[("castcore_stream_jobs", (("state", "paused"),))] == 0
    assert found[("castcore_stream_job_fps", job)] == 24.5
    assert found[("castcore_stream_job_bitrate_kbps", job)] == 812.5
    assert found[("castcore_stream_job_speed", job)] == 0.98
    assert found[("castcore_stream_job_reconnects", job)] == 2
    assert found[("castcore_stream_job_restarts_total", job)] == 2
    assert found[("castcore_stream_job_up", job)] == 1
    assert 0 < found[("castcore_stream_job_health", job)] <= 100
    age = found[
        ("castcore_worker_heartbeat_age_seconds", (("embedded", "false"), ("worker", "celery@a")))
    ]
    assert 42 <= age < 60


def test_stopped_jobs_have_no_live_figures(viewer_api: APIClient, seeded: Any) -> None:
    names = {
        name for name, labels in samples(viewer_api.get(URL).content) if ("job", "Idle") in labels
    }
    assert names == set()


def test_anonymous_scrapes_get_401(api: APIClient) -> None:
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"].startswith("auth.")


def test_a_read_only_api_token_can_scrape(api: APIClient, viewer_user: Any, seeded: Any) -> None:
    issued = api_token_create(user=viewer_user, name="prometheus", read_only=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    response = api.get(URL, HTTP_ACCEPT=PROMETHEUS_ACCEPT)
    assert response.status_code == 200
    assert ("castcore_stream_jobs", (("state", "running"),)) in samples(response.content)


def test_it_is_in_the_openapi_schema(viewer_api: APIClient) -> None:
    schema = viewer_api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/system/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]


def test_a_job_whose_lease_expired_counts_as_lost_and_is_down_as_its_status_says(
    viewer_api: APIClient,
) -> None:
    # Its worker stopped renewing the lease and no reconciler has taken the run back.
    now = timezone.now()
    lost: Any = StreamJobFactory(name="Lost feed", state=JobState.RUNNING, fencing_token=1)
    stats = {"fps": 25.0, "bitrate_kbps": 900.0, "speed": 1.0, "frames": 500, "drops": 0}
    run_for(
        lost, 1, state=RunState.RUNNING, last_stats=stats, reconnect_count=1,
        lease_expires_at=now - timedelta(seconds=1),
    )  # fmt: skip
    alive: Any = StreamJobFactory(name="Alive feed", state=JobState.RUNNING, fencing_token=1)
    run_for(alive, 1, state=RunState.RUNNING, lease_expires_at=now + timedelta(seconds=60))

    found = samples(viewer_api.get(URL, HTTP_ACCEPT=PROMETHEUS_ACCEPT).content)
    assert found[("castcore_stream_jobs", (("state", "lost"),))] == 1
    assert found[("castcore_stream_jobs", (("state", "running"),))] == 1
    job = (("job", "Lost feed"), ("job_id", str(lost.pk)))
    status = viewer_api.get(f"/api/v1/stream-jobs/{lost.pk}/status").json()
    assert status["state"] == "lost"
    assert found[("castcore_stream_job_up", job)] == 0
    assert found[("castcore_stream_job_health", job)] == status["health"] == 0
    assert found[("castcore_stream_job_reconnects", job)] == status["reconnects"] == 0
    assert ("castcore_stream_job_fps", job) not in found  # nothing known to run now
    assert found[("castcore_stream_job_up", (("job", "Alive feed"), ("job_id", str(alive.pk))))]
