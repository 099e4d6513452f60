"""stream_job_respawn: the owning worker replaces its ffmpeg at the asked instant, in the same
run, with no reconnect counted; the earlier of two requests wins; a job that does not run
is not asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.streams.models import ExitReason, JobState, StreamJob, StreamRun
from apps.streams.services import stream_job_respawn, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_and_play, wait_until

UDP = {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}


@pytest.mark.django_db
def test_a_job_that_does_not_run_is_not_asked_to_respawn() -> None:
    job = job_with_outputs(UDP)
    assert not stream_job_respawn(job_id=job.pk, at=timezone.now())
    assert StreamJob.objects.get(pk=job.pk).respawn_at is None


@pytest.mark.django_db
def test_the_earlier_of_two_respawn_requests_wins() -> None:
    job = job_with_outputs(UDP)
    StreamJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    soon, later = timezone.now() + timedelta(seconds=5), timezone.now() + timedelta(seconds=50)
    assert stream_job_respawn(job_id=job.pk, at=later)
    assert stream_job_respawn(job_id=job.pk, at=soon)
    assert stream_job_respawn(job_id=job.pk, at=later)  # still asked, at the earlier instant
    assert StreamJob.objects.get(pk=job.pk).respawn_at == soon


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_replaces_its_ffmpeg_at_the_instant_within_the_run() -> None:
    job = job_with_outputs(UDP)
    thread = start_and_play(job, 1.0)
    try:
        run = run_row(job)
        first_pid = run.pid
        at = timezone.now() + timedelta(seconds=2)
        assert stream_job_respawn(job_id=job.pk, at=at)

        def replaced() -> StreamRun | None:
            again = run_row(job)
            return again if again.pid not in (None, first_pid) else None

        again = wait_until(replaced, timeout=20)
        # Not before the instant; the same run, no reconnect counted, the request answered.
        assert again.process_started_at is not None and again.process_started_at >= at
        assert (again.pk, again.reconnect_count) == (run.pk, 0)
        assert StreamJob.objects.get(pk=job.pk).respawn_at is None
        assert StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING
    finally:
        stream_job_stop(actor=None, job=job)
        thread.join(20)
    assert thread.result == ExitReason.STOPPED
