"""The domain events of stream jobs: one function, called where a job's state is set."""

from __future__ import annotations

from apps.streams.models import JobState, StreamJob
from castcore.events import emit


def announce_job_state(*, job_id: int, state: str, previous: str | None, reason: str = "") -> None:
    """Emit stream_job.started / recovered / failed / stopped for a state just written.

    Call it in the transaction that wrote the state: the event leaves only if it commits.
    """
    if state == JobState.RUNNING:
        event_type = (
            "stream_job.recovered" if previous == JobState.RECONNECTING else "stream_job.started"
        )
    elif state == JobState.FAILED:
        event_type = "stream_job.failed"
    elif state == JobState.STOPPED:
        event_type = "stream_job.stopped"
    else:
        return
    name = StreamJob.objects.filter(pk=job_id).values_list("name", flat=True).first()
    emit(
        event_type,
        {
            "stream_job_id": job_id,
            "name": name,
            "state": state,
            "previous_state": previous,
            "reason": reason,
        },
        subject=f"stream_job:{job_id}",
    )
