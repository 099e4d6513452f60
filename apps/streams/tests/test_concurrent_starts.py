"""Concurrent transitions: a hundred starts make one run, a hundred claims one process,
and concurrent restarts each make a run of their own."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from django.db import connection, connections
from kombu.simple import SimpleQueue

from apps.streams.models import StreamJob, StreamRun
from apps.streams.runtime import lease
from apps.streams.services import stream_job_restart, stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from castcore.api.errors import ApiError
from castcore.celery import app

pytestmark = [pytest.mark.django_db(transaction=True)]

N = 100
# PostgreSQL allows 100 clients by default and other suites share the server: the
# hundred callers contend through this many connections at a time.
CONNECTIONS = threading.BoundedSemaphore(25)


def hammer(action: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(N if connection.vendor == "postgresql" else 20)
    results: list[Any] = []

    def worker() -> None:
        try:
            barrier.wait()
            with CONNECTIONS:
                try:
                    results.append(action())
                finally:
                    connections.close_all()
        except ApiError as exc:
            results.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(barrier.parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture(autouse=True)
def _postgres_for_real_concurrency() -> None:
    if connection.vendor != "postgresql":
        # SQLite serialises writers with a file lock and raises "database is locked"
        # under contention: the CAS rule is what we test, on the database CI runs.
        pytest.skip("concurrent writers need PostgreSQL (set DATABASE_URL)")


def ffmpeg_children() -> set[int]:
    # This process's own: other test processes run ffmpeg at the same time.
    found = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.name() == "ffmpeg":
                found.add(child.pid)
    return found


def test_a_hundred_concurrent_starts_make_exactly_one_run() -> None:
    job = job_with_outputs({})
    results = hammer(
        lambda: stream_job_start(actor=None, job=StreamJob.objects.get(pk=job.pk)).state
    )
    assert len(results) == N and Counter(results) == {"starting": N}
    assert StreamRun.objects.filter(job=job).count() == 1
    assert StreamJob.objects.get(pk=job.pk).fencing_token == 1


def test_a_hundred_concurrent_claims_make_one_owner_and_one_process() -> None:
    job = job_with_outputs({})
    stream_job_start(actor=None, job=job)
    run = StreamRun.objects.get(job=job)
    before = ffmpeg_children()
    claims = hammer(
        lambda: lease.claim(run_id=run.pk, token=run.fencing_token, worker="w") is not None
    )
    assert claims.count(True) == 1
    assert ffmpeg_children() == before  # claiming spawns nothing by itself; the winner supervises
    stream_job_stop(actor=None, job=job)


def test_concurrent_restarts_each_make_a_run_with_a_number_of_its_own() -> None:
    # A restart is allowed from starting, so every caller's UPDATE succeeds, one after
    # another on the job's row lock: each must number its run after the one before.
    job = job_with_outputs({})
    stream_job_start(actor=None, job=job)
    try:
        results = hammer(
            lambda: stream_job_restart(actor=None, job=StreamJob.objects.get(pk=job.pk)).state
        )
        assert len(results) == N and Counter(results) == {"starting": N}
        numbers = sorted(StreamRun.objects.filter(job=job).values_list("number", flat=True))
        assert numbers == list(range(1, N + 2))
        job.refresh_from_db()
        assert job.fencing_token == job.last_run_number == N + 1
    finally:
        # No worker here takes these runs; one started by a later test would find them.
        with app.connection_for_write() as conn, SimpleQueue(conn, "ffmpeg") as queue:
            queue.clear()
