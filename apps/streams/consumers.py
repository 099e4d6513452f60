"""WS /api/v1/ws/logs/<job_id> (live ffmpeg log lines) and WS /api/v1/ws/status (per-job status).

The logs socket sends one `log` frame per line; with `?batch=1` it sends one
`logs` frame ({"type": "logs", "job_id", "run_id", "lines": [log frames]}) per
burst the worker published together, which is what a page with hundreds of
viewers should ask for: a start-up burst is then one frame per socket, not one
per line per socket.

Authenticated from scope["user"] (castcore.ws_auth); 4401 without a user,
4403 without permission, 1011 when a permission check fails. Permission is
re-checked before every event, so a deactivated user or a job that became
invisible stops streaming within ACCESS_RECHECK_SECONDS. The check is an
in-process answer that is at most that old: 200 sockets of one user watching a
burst of log lines cost one database check per second, not two queries per
line per socket (which made the fan-out slow), and the sockets of one user
share that check.

Both sockets get their events through castcore.fanout: a web process is one
member of a job's log group (and of the status group) for all its sockets,
and hands each burst to them in one pass, with each frame encoded once and,
under daphne, written to each socket as it is (castcore.ws.send_text_frames).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.roles import Role, role_at_least
from apps.streams import lease_watch
from apps.streams.events import (
    STATUS_GROUP,
    StreamLogEvent,
    StreamStatusEvent,
    log_frame_json,
    logs_group,
)
from apps.streams.models import JobState, StreamRun
from apps.streams.selectors import jobs_visible_to, may_see_job
from apps.streams.status import status_event
from castcore import fanout
from castcore.ws import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL_ERROR,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    TextFrames,
    refuse,
    route_id,
    send_text_frames,
)

logger = logging.getLogger(__name__)

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
    An answer past half its life is checked again in the background while it still
    stands: a fan-out pass (200 sockets waiting behind the first) then rarely waits
    for the database, and no answer older than ACCESS_RECHECK_SECONDS is used.
    """
    answer = _answers.get((user.pk, job_id))
    if answer is not None:
        age = time.monotonic() - answer[0]
        if age < ACCESS_RECHECK_SECONDS:
            if age >= ACCESS_RECHECK_SECONDS / 2:
                _check(user, job_id)
            return answer[1]
    return await asyncio.shield(_check(user, job_id))


def _check(user: Any, job_id: int | None) -> asyncio.Future[bool]:
    """The database check of (user, job) running on this loop, started if none is."""
    loop = asyncio.get_running_loop()
    key = (loop, (user.pk, job_id))
    pending = _checking.get(key)
    if pending is None:
        pending = _checking[key] = loop.create_task(_may_see_now(user, job_id))
        pending.add_done_callback(functools.partial(_checked, key))
    return pending


def _checked(key: tuple[asyncio.AbstractEventLoop, _AccessKey], task: asyncio.Future[bool]) -> None:
    _checking.pop(key, None)
    if not task.cancelled() and task.exception() is not None:
        # Logged here, once: every socket that waited for this check closes (1011), and
        # nobody may be waiting for a check made ahead of time.
        logger.warning("permission check failed", exc_info=task.exception())


async def _still_allowed(consumer: Any, job_id: int | None) -> bool:
    """Whether `consumer` may forward events still (of `job_id`, or of any job: None).

    If not, the socket is closed: 4403 when access is gone, 1011 when the check itself
    failed. A socket that skipped events because the database was unreachable would
    show a stale state with nothing to say so; closed, its client connects again and
    reads the current one.
    """
    try:
        allowed = await _may_still_see(consumer.scope["user"], job_id)
    except Exception:
        await _close_unchecked(consumer)
        return False
    if not allowed:
        await consumer.unsubscribe()
        await consumer.close(code=CLOSE_FORBIDDEN)
    return allowed


async def _close_unchecked(consumer: Any) -> None:
    """Close with 1011 after a failed check (which `_checked` logged)."""
    await consumer.unsubscribe()
    await consumer.close(code=CLOSE_INTERNAL_ERROR)


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
    async def _authorise(self, job_id: int | None) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await refuse(self, CLOSE_UNAUTHENTICATED)
            return False
        if not await _may_see_now(user, job_id):
            await refuse(self, CLOSE_FORBIDDEN)
            return False
        return True


class StreamLogsConsumer(fanout.HeldUntilOpened, _AuthenticatedConsumer):
    """A job's log: the recent tail on connect, then the lines the process's log group gets."""

    channel_layer_alias = fanout.NO_CHANNEL_LAYER

    async def connect(self) -> None:
        job_id = route_id(self.scope, "job_id")
        if job_id is None:  # more digits than any row's id
            await refuse(self, CLOSE_NOT_FOUND)
            return
        self.job_id = job_id
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.batched = query.get("batch", ["0"])[-1] in ("1", "true")
        if not await self._authorise(self.job_id):
            return
        await self.subscribe(logs_group(self.job_id))
        await self.accept()
        run_id, lines = await _recent_tail(self.job_id)
        await self.send_json(
            {"type": "tail", "job_id": self.job_id, "run_id": run_id, "lines": lines}
        )
        await self.opened()

    async def disconnect(self, code: int) -> None:
        await self.unsubscribe()

    async def forward(self, delivery: fanout.Delivery) -> None:
        if not await _still_allowed(self, self.job_id):
            return
        frames = delivery.once(
            ("logs", self.job_id, self.batched),
            lambda: TextFrames.of(_log_texts(delivery.events, self.job_id, self.batched)),
        )
        await send_text_frames(self, frames)


def _log_texts(events: list[dict[str, Any]], job_id: int, batched: bool) -> list[str]:
    """A logs socket's frames for `events`: one per line, or one per run when batched.

    The worker encoded each line's frame once; nothing is re-encoded per socket.
    """
    texts: list[str] = []
    for run_id, frames in _frames_by_run(events):
        if batched:
            head = f'{{"type":"logs","job_id":{job_id},"run_id":{run_id},'
            texts.append(head + f'"lines":[{",".join(frames)}]}}')
        else:
            texts.extend(frames)
    return texts


def _frames_by_run(events: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    """The events' line frames, in order, joined while consecutive events share a run."""
    runs: list[tuple[int, list[str]]] = []
    for event in events:
        if event["type"] == "stream.log_batch":
            frames = list(event["frames"])
        elif event["type"] == "stream.log":  # a single line, as workers sent them before batching
            frames = [log_frame_json(cast(StreamLogEvent, event))]
        else:
            continue
        run_id = int(event["run_id"])
        if runs and runs[-1][0] == run_id:
            runs[-1][1].extend(frames)
        else:
            runs.append((run_id, frames))
    return runs


class StreamStatusConsumer(fanout.HeldUntilOpened, _AuthenticatedConsumer):
    """Every visible job's status: a snapshot on connect, then each change."""

    channel_layer_alias = fanout.NO_CHANNEL_LAYER

    async def connect(self) -> None:
        if not await self._authorise(None):
            return
        # job id -> its run that this socket has seen past "starting" (see _overtaken).
        self.started_runs: dict[int, int] = {}
        await self.subscribe(STATUS_GROUP)
        await self.accept()
        jobs = await _snapshot(self.scope["user"])
        for job in jobs:
            self._overtaken(job)
        await self.send_json({"type": "snapshot", "jobs": jobs})
        await self.opened()
        self.watching = True
        await lease_watch.watch()  # a run whose worker died says so, even with none alive

    def _overtaken(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` is a run's "starting" that arrives after that run went on.

        The web announces "starting" after its commit, the worker "running" once ffmpeg
        is spawned; on a busy web process the worker's can be published first. A run
        never returns to starting, so the late one is dropped rather than shown last.
        """
        job_id, run_id = event["job_id"], event.get("run_id")
        if run_id is None:
            return False
        if event.get("state") == JobState.STARTING:
            return self.started_runs.get(job_id) == run_id
        self.started_runs[job_id] = run_id
        return False

    async def disconnect(self, code: int) -> None:
        await self.unsubscribe()
        if getattr(self, "watching", False):
            self.watching = False
            await lease_watch.unwatch()

    async def forward(self, delivery: fanout.Delivery) -> None:
        if not await _still_allowed(self, None):
            return
        user = self.scope["user"]
        visible: list[TextFrames] = []
        for index, event in enumerate(delivery.events):
            if event["type"] != "stream.status" or self._overtaken(event):
                continue
            try:
                allowed = await _may_still_see(user, event["job_id"])
            except Exception:
                await _close_unchecked(self)
                return
            if allowed:  # (a job this user may not see: its event is skipped)
                visible.append(
                    delivery.once(("status", index), functools.partial(_status_frames, event))
                )
        await send_text_frames(self, *visible)


def _status_frames(event: dict[str, Any]) -> TextFrames:
    return TextFrames.of([json.dumps(_frame(cast(StreamStatusEvent, event)))])
