"""A run no worker claims is sent once more, then fails with a plain hint (not "starting" on)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from kombu.simple import SimpleQueue

from apps.streams import conf
from apps.streams.models import ExitReason, JobState, RunState, StreamJob, StreamRun
from apps.streams.runtime.reconcile import NOT_CLAIMED_HINT_CODE, reconcile_runs
from apps.streams.runtime.supervisor import run_stream
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import RunThread, run_row, wait_until
from castcore.celery import app
from workers.stream_jobs import reconcile_stream_runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ffmpeg_queue() -> Iterator[SimpleQueue]:
    """The real ffmpeg queue of the test broker (memory://), emptied before and after."""
    with app.connection_for_write() as connection:
        queue = SimpleQueue(connection, "ffmpeg")
        queue.clear()
        yield queue
        queue.clear()


def sent_runs(queue: SimpleQueue) -> list[tuple[str, list[Any]]]:
    messages: list[tuple[str, list[Any]]] = []
    while True:
        try:
            message = queue.get(block=False)
        except queue.Empty:
            return messages
        args, _kwargs, _embed = message.payload
        messages.append((message.headers["task"], args))
        message.ack()


def age(run: StreamRun, seconds: float) -> None:
    StreamRun.objects.filter(pk=run.pk).update(
        dispatched_at=timezone.now() - timedelta(seconds=seconds)
    )


def started_job() -> tuple[StreamJob, StreamRun]:
    job = job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""})
    stream_job_start(actor=None, job=job)
    return job, run_row(job)


def test_an_unclaimed_run_is_sent_again_once_then_fails_with_a_hint(
    ffmpeg_queue: SimpleQueue,
) -> None:
    job, run = started_job()
    assert sent_runs(ffmpeg_queue) == [
        ("workers.stream_jobs.run_stream_job", [run.pk, run.fencing_token])
    ]
    age(run, conf.CLAIM_TIMEOUT_SECONDS - 5)
    assert reconcile_runs().redispatched == []  # still within the claim timeout

    age(run, conf.CLAIM_TIMEOUT_SECONDS + 1)
    result = reconcile_stream_runs()  # the beat task itself
    assert result["redispatched"] == [run.pk] and result["failed"] == []
    assert sent_runs(ffmpeg_queue) == [
        ("workers.stream_jobs.run_stream_job", [run.pk, run.fencing_token])
    ]
    run.refresh_from_db()
    assert (run.state, run.dispatch_count) == (RunState.PENDING, 2)
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING

    assert reconcile_runs().not_claimed == []  # the re-sent message gets its own timeout
    age(run, conf.CLAIM_TIMEOUT_SECONDS + 1)
    result = reconcile_stream_runs()
    assert result["not_claimed"] == [run.pk] and result["failed"] == [job.pk]
    assert sent_runs(ffmpeg_queue) == []
    run.refresh_from_db()
    assert run.state == RunState.ENDED and run.exit_reason == ExitReason.NOT_CLAIMED
    assert run.log_tail[0]["hint_code"] == NOT_CLAIMED_HINT_CODE
    assert "is a worker consuming the ffmpeg queue?" in run.log_tail[0]["line"]
    job.refresh_from_db()
    assert (job.state, job.desired_state) == (JobState.FAILED, "stopped")

    # A late message for the failed run finds nothing to claim.
    assert run_stream(run_id=run.pk, token=run.fencing_token, worker="late") == "not_claimed"
    stream_job_start(actor=None, job=job)  # and the job can be started again
    assert run_row(job).number == 2


@pytest.mark.slow
def test_of_the_original_and_the_re_sent_message_only_one_starts_the_run(
    ffmpeg_queue: SimpleQueue,
) -> None:
    job, run = started_job()
    age(run, conf.CLAIM_TIMEOUT_SECONDS + 1)
    assert reconcile_runs().redispatched == [run.pk]
    messages = sent_runs(ffmpeg_queue)
    assert len(messages) == 2 and messages[0] == messages[1]

    first = RunThread(run)
    first.start()
    wait_until(lambda: run_row(job).state == RunState.RUNNING)
    assert run_stream(run_id=run.pk, token=run.fencing_token, worker="second") == "not_claimed"
    age(run, conf.CLAIM_TIMEOUT_SECONDS + 1)
    assert reconcile_runs().not_claimed == []  # a claimed run is never failed as unclaimed
    stream_job_stop(actor=None, job=job)
    first.join(15)
    assert first.result == ExitReason.STOPPED
    assert run_row(job).worker == "test-worker"
