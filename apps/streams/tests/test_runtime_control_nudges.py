"""Control nudges reach every run a worker process supervises, not only the first one."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from apps.streams import conf
from apps.streams.models import ExitReason, RunState, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_supervised, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def udp_job() -> StreamJob:
    return job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""})


def test_stop_reaches_two_runs_of_one_process_through_the_nudge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Heartbeats (which also read the row) an hour apart: only the channel-layer nudge
    # can stop these runs before the join below gives up. On Redis, a listener per run
    # on its own event loop failed for every run after the first.
    monkeypatch.setattr(conf, "HEARTBEAT_SECONDS", 3600.0)
    monkeypatch.setattr(conf, "LEASE_SECONDS", 7200.0)
    jobs = [udp_job(), udp_job()]
    threads = []
    for job in jobs:
        stream_job_start(actor=None, job=job)
    # Then the supervisors.
    for job in jobs:
        threads.append(start_supervised(job))
    try:
        for job in jobs:
            wait_until(functools.partial(_is_running, job))
        for job in jobs:
            job.refresh_from_db()
            stream_job_stop(actor=None, job=job)
    finally:
        for thread in threads:
            thread.join(60)
    assert [thread.result for thread in threads] == [ExitReason.STOPPED, ExitReason.STOPPED]
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "stopped"


def _is_running(job: Any) -> bool:
    return bool(run_row(job).state == RunState.RUNNING)
