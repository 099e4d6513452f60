"""Tell a web process's status sockets when a run's lease expires, even with no worker alive.

A run's status events come from its worker, and from the reconciler that takes the
run back once its lease expired; with every worker gone (or beat), nobody says
anything, and a status socket kept showing `running`. So while a process has status
sockets open, it looks every heartbeat interval for runs whose lease expired and
publishes their status once (state `lost`, status.reported_state), as the API
reports them. The reconciler's event follows when it settles the job.

Each web process announces the runs it finds itself (the status group reaches every
process's sockets): with several, a socket may get the same `lost` frame more than
once, which changes nothing it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db.models import F

from apps.streams import conf
from apps.streams.events import STATUS_GROUP, StreamStatusEvent, job_status_group
from apps.streams.models import ACTIVE_RUN_STATES, StreamRun
from apps.streams.status import LIVE_STATES, status_payload

logger = logging.getLogger(__name__)


class _Watch:
    """The watch of one event loop: how many sockets want it, and what it announced."""

    def __init__(self) -> None:
        self.sockets = 0
        self.task: asyncio.Task[None] | None = None
        self.announced: set[int] = set()  # run ids announced lost, while they still are


_watches: dict[asyncio.AbstractEventLoop, _Watch] = {}


async def watch() -> None:
    """A status socket opened: watch leases while it (or another) stays open."""
    loop = asyncio.get_running_loop()
    current = _watches.setdefault(loop, _Watch())
    current.sockets += 1
    if current.task is None or current.task.done():
        current.task = loop.create_task(_run(current))


async def unwatch() -> None:
    """A status socket that called watch() closed."""
    loop = asyncio.get_running_loop()
    current = _watches.get(loop)
    if current is None:
        return
    current.sockets -= 1
    if current.sockets <= 0:
        _watches.pop(loop, None)
        if current.task is not None:
            current.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await current.task


async def _run(current: _Watch) -> None:
    while True:
        await asyncio.sleep(conf.HEARTBEAT_SECONDS)
        try:
            events = await _newly_lost(current.announced)
            layer = get_channel_layer()
            for event in events:
                for group in (STATUS_GROUP, job_status_group(event["job_id"])):
                    await layer.group_send(group, dict(event))
        except Exception:
            logger.warning("looking for runs with an expired lease failed", exc_info=True)


@database_sync_to_async
def _newly_lost(announced: set[int]) -> list[StreamStatusEvent]:
    """Status events of the runs whose lease expired since the last look (updates `announced`)."""
    from django.utils import timezone

    runs = list(
        StreamRun.objects.filter(
            state__in=ACTIVE_RUN_STATES,
            lease_expires_at__lt=timezone.now(),
            job__state__in=LIVE_STATES,
            job__fencing_token=F("fencing_token"),
        ).select_related("job", "job__profile")
    )
    lost = {run.pk for run in runs}
    announced &= lost  # taken back, or renewed after all: announce again if lost again
    events = [status_payload(run.job, run) for run in runs if run.pk not in announced]
    announced |= lost
    return events
