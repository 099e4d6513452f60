"""Reads of the streams app: which jobs a user may see, in one place."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from apps.accounts.roles import Role, role_at_least
from apps.streams.models import (
    ACTIVE_JOB_STATES,
    ACTIVE_RUN_STATES,
    JobState,
    RunState,
    StreamJob,
    StreamRun,
)


def jobs_visible_to(user: Any, jobs: QuerySet[StreamJob] | None = None) -> QuerySet[StreamJob]:
    """`jobs` (default: all) narrowed to those `user` may see.

    Every role reads every job today; narrow here (not in views) when ownership
    matters. It narrows the caller's queryset rather than returning one to `&` with
    it: combining two querysets cost a job request a millisecond of its ~20.
    """
    jobs = StreamJob.objects.all() if jobs is None else jobs
    if not role_at_least(user, Role.VIEWER):
        return jobs.none()
    return jobs


def may_see_job(user: Any, job_id: int) -> bool:
    return jobs_visible_to(user).filter(pk=job_id).exists()


def with_current_lease(jobs: QuerySet[StreamJob]) -> QuerySet[StreamJob]:
    """`jobs` with `current_lease_expires_at`: the lease of the active run holding each job's
    token (null when none), read in the list's own query (status.job_reported_state)."""
    if "current_lease_expires_at" in jobs.query.annotations:
        return jobs
    lease = StreamRun.objects.filter(
        job_id=OuterRef("pk"), fencing_token=OuterRef("fencing_token"), state__in=ACTIVE_RUN_STATES
    ).values("lease_expires_at")[:1]
    return jobs.annotate(current_lease_expires_at=Subquery(lease))


def _lease_lost() -> Q:
    # status.lease_lost, as a condition on rows annotated by with_current_lease: a live job
    # whose current run's lease expired. (isnull=False: excluding "lease < now" alone
    # would drop the jobs with no lease too.)
    return Q(
        state__in=ACTIVE_JOB_STATES,
        current_lease_expires_at__isnull=False,
        current_lease_expires_at__lt=timezone.now(),
    )


def with_reported_state(jobs: QuerySet[StreamJob]) -> QuerySet[StreamJob]:
    """`jobs` with `reported_state`: the state the API reports (status.reported_state), the
    row's or `lost`, computed in the query, for counts and groupings over many jobs."""
    return with_current_lease(jobs).annotate(
        reported_state=Case(
            When(_lease_lost(), then=Value(JobState.LOST.value)),
            default=F("state"),
            output_field=CharField(),
        )
    )


def jobs_in_reported_state(jobs: QuerySet[StreamJob], state: str) -> QuerySet[StreamJob]:
    """`jobs` whose reported state is `state`: `lost` are those whose current run's lease
    expired, and `running` (or any live state) leaves them out, as the rows show them.
    The API's `?state=` filter, `show_stream_jobs --state` and the metrics agree through it."""
    jobs = with_current_lease(jobs)
    if state == JobState.LOST:
        return jobs.filter(_lease_lost())
    # Filtered on the stored column first, which its index serves.
    return jobs.filter(state=state).exclude(_lease_lost())


def _run_lease_lost() -> Q:
    # status.run_reported_state as a condition on runs: the job's current run, active, of a
    # live job, whose lease expired.
    return Q(
        state__in=ACTIVE_RUN_STATES,
        fencing_token=F("job__fencing_token"),
        job__state__in=ACTIVE_JOB_STATES,
        lease_expires_at__isnull=False,
        lease_expires_at__lt=timezone.now(),
    )


def runs_in_reported_state(runs: QuerySet[StreamRun], state: str) -> QuerySet[StreamRun]:
    """`runs` whose reported state is `state` (status.run_reported_state): `lost` included."""
    if state == RunState.LOST:
        return runs.filter(_run_lease_lost())
    return runs.filter(state=state).exclude(_run_lease_lost())
