"""WS /api/v1/ws/logs/<job_id> (live ffmpeg log lines) and WS /api/v1/ws/status (per-job status).

The logs socket sends one `log` frame per line; with `?batch=1` it sends one
`logs` frame ({"type": "logs", "job_id", "run_id", "lines": [log frames]}) per
burst the worker published together, which is what a page with hundreds of
viewers should ask for: a start-up burst is then one frame per socket, not one
per line per socket.

Authenticated from scope["user"] (castcore.ws_auth); 4401 without a user,
4403 without permission. Permission is re-checked before every event, so a
deactivated user or a job that became invisible stops streaming within
ACCESS_RECHECK_SECONDS. The check is an in-process answer that is at most
that old: 200 sockets of one user watching a burst of log lines cost one
database check per second, not two queries per line per socket (which made
the fan-out slow), and the sockets of one user share that check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.roles import Role, role_at_least
from apps.streams.events import (
    STATUS_GROUP,
    StreamLogBatchEvent,
    StreamLogEvent,
    StreamStatusEvent,
    log_frame_json,
    logs_group,
)
from apps.streams.models import StreamRun
from apps.streams.selectors import jobs_visible_to, may_see_job
from apps.streams.status import status_event
from castcore.ws import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED, route_id

# How old a permission answer may be when an event is forwarded.
ACCESS_RECHECK_SECONDS = 1.0


@database_sync_to_async
def _may_see(user: Any, job_id: int | None) -> bool:
    user.refresh_from_db(fields=["is_active", "role"])
    if not role_at_least(user, Role.VIEWER):
        return False
    return job_id is None or may_see_job(user, job_id)


_AccessKey = tuple[int, int | None]  # (user id, job id or None for "any job")
_answers: dict[_AccessKey, tuple[float, bool]] = {}  # key -> (checked at, allowed)
_checking: dict[tuple[asyncio.AbstractEventLoop, _AccessKey], asyncio.Future[bool]] = {}


async def _may_see_now(user: Any, job_id: int | None) -> bool:
    """Check the database, and remember the answer for events that follow."""
    checked_at = time.monotonic()
    allowed = await _may_see(user, job_id)
    _answers[(user.pk, job_id)] = (checked_at, allowed)
    return allowed


async def _may_still_see(user: Any, job_id: int | None) -> bool:
    """The per-event check: an answer younger than ACCESS_RECHECK_SECONDS, else the database.

    Concurrent sockets of one user that find the answer stale wait for one check.
    """
    key = (user.pk, job_id)
    answer = _answers.get(key)
    if answer is not None and time.monotonic() - answer[0] < ACCESS_RECHECK_SECONDS:
        return answer[1]
    loop = asyncio.get_running_loop()
    pending = _checking.get((loop, key))
    if pending is None:
        pending = loop.create_task(_may_see_now(user, job_id))
        _checking[(loop, key)] = pending
        pending.add_done_callback(lambda _: _checking.pop((loop, key), None))
    return await asyncio.shield(pending)


@database_sync_to_async
def _recent_tail(job_id: int) -> tuple[int | None, list[dict[str, Any]]]:
    run = StreamRun.objects.filter(job_id=job_id).order_by("-number").first()
    return (run.pk, list(run.log_tail)) if run is not None else (None, [])


@database_sync_to_async
def _snapshot(user: Any) -> list[dict[str, Any]]:
    jobs = jobs_visible_to(user).select_related("profile").order_by("id")
    return [_frame(status_event(job)) for job in jobs]


def _frame(event: StreamStatusEvent | StreamLogEvent) -> dict[str, Any]:
    # Client frames say "status"/"log"; the channel-layer type names the handler.
    frame = dict(event)
    frame["type"] = str(frame["type"]).removeprefix("stream.")
    return frame


class _AuthenticatedConsumer(AsyncJsonWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first runs close_old_connections in the sync thread for every
        # message: for 200 sockets that is 200 serialised thread hops per log event. Our
        # handlers reach the database only through database_sync_to_async, which closes
        # old connections around each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _authorise(self, job_id: int | None) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        if not await _may_see_now(user, job_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return True


class StreamLogsConsumer(_AuthenticatedConsumer):
    async def connect(self) -> None:
        job_id = route_id(self.scope, "job_id")
        if job_id is None:  # more digits than any row's id
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.job_id = job_id
        self.group = logs_group(self.job_id)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.batched = query.get("batch", ["0"])[-1] in ("1", "true")
        if not await self._authorise(self.job_id):
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        run_id, lines = await _recent_tail(self.job_id)
        await self.send_json(
            {"type": "tail", "job_id": self.job_id, "run_id": run_id, "lines": lines}
        )

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):  # not set when the id was refused
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def stream_log_batch(self, event: StreamLogBatchEvent) -> None:
        if not await _may_still_see(self.scope["user"], self.job_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # The worker encoded each line's frame once; nothing is re-encoded per socket.
        if self.batched:
            head = f'{{"type":"logs","job_id":{self.job_id},"run_id":{int(event["run_id"])},'
            await self.send(text_data=head + f'"lines":[{",".join(event["frames"])}]}}')
            return
        for frame in event["frames"]:
            await self.send(text_data=frame)

    async def stream_log(self, event: StreamLogEvent) -> None:
        # Single lines, as workers sent them before batching (a rolling upgrade).
        await self.stream_log_batch(
            {
                "type": "stream.log_batch",
                "job_id": event["job_id"],
                "run_id": event["run_id"],
                "frames": [log_frame_json(event)],
            }
        )


class StreamStatusConsumer(_AuthenticatedConsumer):
    async def connect(self) -> None:
        if not await self._authorise(None):
            return
        await self.channel_layer.group_add(STATUS_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "snapshot", "jobs": await _snapshot(self.scope["user"])})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(STATUS_GROUP, self.channel_name)

    async def stream_status(self, event: StreamStatusEvent) -> None:
        user = self.scope["user"]
        if not await _may_still_see(user, None):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if await _may_still_see(user, event["job_id"]):
            await self.send_json(_frame(event))
