"""lease.claim: a worker takes a pending run only while its token is the job's current one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.streams import conf
from apps.streams.models import DesiredState, RunState, StreamJob, StreamRun
from apps.streams.runtime import lease
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db


def started_run() -> StreamRun:
    job = job_with_outputs({})
    stream_job_start(actor=None, job=job)
    return StreamRun.objects.get(job=job)


def shape(value: object) -> tuple[type, bool, int | None]:
    """What a raw read of a date column gives: its type, naive or not, its text length."""
    return (
        type(value),
        getattr(value, "tzinfo", None) is None,
        len(value) if isinstance(value, str) else None,
    )


def claim(run: StreamRun, worker: str = "w1") -> StreamRun | None:
    return lease.claim(run_id=run.pk, token=run.fencing_token, worker=worker)


def test_a_claim_takes_the_run_and_hands_it_out_with_job_and_profile(
    django_assert_num_queries: object,
) -> None:
    run = started_run()
    before = timezone.now()
    claimed = claim(run, worker="host@" + "x" * 300)
    assert claimed is not None
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert claimed.job.profile.name  # loaded with the run
    assert claimed.predecessor_active is False
    stored = StreamRun.objects.get(pk=run.pk)
    assert stored.state == RunState.STARTING
    assert stored.worker == ("host@" + "x" * 300)[:255]
    assert stored.heartbeat_at is not None and stored.started_at is not None
    assert before <= stored.heartbeat_at == stored.started_at <= timezone.now()
    assert stored.lease_expires_at is not None
    lease_s = (stored.lease_expires_at - stored.heartbeat_at).total_seconds()
    assert lease_s == pytest.approx(conf.LEASE_SECONDS, abs=0.5)
    # Stored as the ORM stores dates (SQLite keeps them as text, and compares text): the
    # same shape as a date the ORM wrote, and the reconciler's filters read it right.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT heartbeat_at, dispatched_at FROM streams_streamrun WHERE id = %s", [run.pk]
        )
        ours, the_orms = cursor.fetchone()
    assert shape(ours) == shape(the_orms)
    live = StreamRun.objects.filter(pk=run.pk, lease_expires_at__gt=timezone.now())
    assert live.exists()
    later = timezone.now() + timedelta(seconds=conf.LEASE_SECONDS + 1)
    assert StreamRun.objects.filter(pk=run.pk, lease_expires_at__lt=later).exists()


def test_a_run_is_claimed_once() -> None:
    run = started_run()
    assert claim(run, "w1") is not None
    assert claim(run, "w2") is None
    assert StreamRun.objects.get(pk=run.pk).worker == "w1"


@pytest.mark.parametrize(
    "change",
    [
        {"fencing_token": F("fencing_token") + 1},  # a restart gave the job a newer run
        {"desired_state": DesiredState.STOPPED},  # stopped before any worker took it
    ],
    ids=["superseded", "stopped"],
)
def test_a_run_whose_job_moved_on_is_not_claimed(change: dict[str, object]) -> None:
    run = started_run()
    StreamJob.objects.filter(pk=run.job_id).update(**change)
    assert claim(run) is None
    assert StreamRun.objects.get(pk=run.pk).state == RunState.PENDING


def test_a_message_with_an_old_token_claims_nothing() -> None:
    run = started_run()
    assert lease.claim(run_id=run.pk, token=run.fencing_token - 1, worker="w") is None
    assert StreamRun.objects.get(pk=run.pk).state == RunState.PENDING


@pytest.mark.parametrize(
    ("state", "lease_left_s", "expected"),
    [
        (RunState.RUNNING, 10, True),  # a restart's predecessor, still stopping its ffmpeg
        (RunState.STOPPING, 10, True),
        (RunState.RUNNING, -1, False),  # its lease ran out: the reconciler's, not ours
        (RunState.ENDED, 10, False),
    ],
)
def test_the_claim_says_whether_an_older_run_still_holds_a_lease(
    state: str, lease_left_s: int, expected: bool
) -> None:
    run = started_run()
    StreamRun.objects.filter(pk=run.pk).update(
        state=state, lease_expires_at=timezone.now() + timedelta(seconds=lease_left_s)
    )
    StreamJob.objects.filter(pk=run.job_id).update(fencing_token=F("fencing_token") + 1)
    newer = StreamRun.objects.create(
        job_id=run.job_id, number=run.number + 1, fencing_token=run.fencing_token + 1
    )
    claimed = claim(newer)
    assert claimed is not None
    assert claimed.predecessor_active is expected
