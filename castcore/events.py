"""How server-side code announces what happened: domain events and live events.

Two paths, one module:
- `emit()`: a domain event (job failed, recording ready, …) for the world outside
  (webhooks, notifications). It is written to the outbox (castcore.outbox) in the
  transaction of the change it announces, and handed to the delivery tasks once that
  transaction commits: a rolled-back change sends nothing, a committed one is never
  lost (a periodic sweep picks up rows whose hand-over did not happen). Every event
  type is listed in EVENT_TYPES; README "Domain events" documents their payloads.
- `publish()`: live events to WebSocket consumers through the channel layer
  (in-memory when embedded, Redis when distributed), one group per topic:
  `job.<id>.logs`, `jobs.status`, `scan.<id>`, … Consumers subscribe to groups and
  re-check permissions before forwarding each event to their client. Best effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger("castcore.events")

INFO, WARNING, ERROR = "info", "warning", "error"

#: Every domain event type and its default level. Webhooks and notifications
#: subscribe to these names; emit() refuses any other.
EVENT_TYPES: dict[str, str] = {
    "stream_job.started": INFO,
    "stream_job.stopped": INFO,
    "stream_job.failed": ERROR,
    "stream_job.recovered": INFO,
    "live_stream.started": INFO,
    "live_stream.ended": INFO,
    "live_stream.title_updated": INFO,
    "recording.ready": INFO,
    "media_scan.finished": INFO,
    "chat.message": INFO,
    "chat.moderation": INFO,
    "chat.name_change": INFO,
    "chat.user_joined": INFO,
    "auth.lockout": WARNING,
    "system.disk_low": WARNING,
    "system.disk_recovered": INFO,
    "webhook.disabled": ERROR,
}


def emit(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    level: str | None = None,
    subject: str = "",
) -> None:
    """Announce a domain event: an outbox row in the current transaction, delivered after commit.

    `payload` must be JSON (dates become ISO strings) and hold no secret: it leaves
    CastCore as it is. `subject` names what the event is about ("stream_job:5"), so that
    a burst about one thing becomes one notification. Outside a transaction the row
    commits at once and delivery starts at once.
    """
    from castcore.outbox.models import OutboxEvent

    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}: add it to EVENT_TYPES")
    level = level or EVENT_TYPES[event_type]
    if level not in (INFO, WARNING, ERROR):
        raise ValueError(f"unknown event level {level!r}")
    data = json.loads(json.dumps(dict(payload), cls=DjangoJSONEncoder))
    event = OutboxEvent.objects.create(
        event_type=event_type, level=level, subject=subject[:128], payload=data
    )
    transaction.on_commit(lambda: _kick_or_defer(event.pk))


# Set by `outbox_kicks_deferred()`: committed event ids wait here for the caller to kick.
_deferred_kicks: ContextVar[list[int] | None] = ContextVar("outbox_deferred_kicks", default=None)


@contextlib.contextmanager
def outbox_kicks_deferred() -> Iterator[list[int]]:
    """Collect the ids of the events emitted (and committed) in this block instead of queueing
    them at commit; the caller hands them to `kick_outbox` later.

    For a hot path whose commit is followed by something more urgent (chat broadcasts a
    message before its webhook is queued: each queueing is a broker round trip). The rows
    are committed either way, so an id the caller never kicks is still sent by the sweep.
    """
    kicks: list[int] = []
    token = _deferred_kicks.set(kicks)
    try:
        yield kicks
    finally:
        _deferred_kicks.reset(token)


def _kick_or_defer(event_id: int) -> None:
    deferred = _deferred_kicks.get()
    if deferred is None:
        kick_outbox(event_id)
    else:
        deferred.append(event_id)


def kick_outbox(event_id: int) -> None:
    """Hand a committed event to the delivery tasks (a broker that is down: the sweep will)."""
    from workers.events import dispatch_event

    try:
        dispatch_event.delay(event_id)
    except Exception:
        logger.warning("Could not queue event %s; the outbox sweep will", event_id, exc_info=True)


def kick_outbox_many(event_ids: Sequence[int]) -> None:
    """Hand several committed events to the delivery tasks in one task message (a hot path's
    events, gathered: each queueing costs a broker round trip and a millisecond of CPU)."""
    from workers.events import dispatch_events

    if not event_ids:
        return
    try:
        dispatch_events.delay(list(event_ids))
    except Exception:
        logger.warning(
            "Could not queue %d events; the outbox sweep will", len(event_ids), exc_info=True
        )


def group_name(*parts: object) -> str:
    """A channel-layer group name; only ASCII letters, digits, '-', '_' and '.' are allowed."""
    return ".".join(str(part) for part in parts)


def publish_now(groups: str | Sequence[str], event: Mapping[str, Any]) -> None:
    """Send `event` (a TypedDict with a "type" naming the consumer handler) to each group.

    Several groups go out in one trip to the event loop, in order: from a request's
    thread, each async_to_sync call is a hand-over to the server's loop and back.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    names = [groups] if isinstance(groups, str) else list(groups)

    async def send_all() -> None:
        for group in names:
            try:
                await layer.group_send(group, dict(event))
            except Exception:
                # Live events are best effort: a full or unreachable layer must never
                # fail the work that produced the event.
                kind = event.get("type")
                logger.warning("Could not publish %s to %s", kind, group, exc_info=True)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.warning("Could not publish %s to %s", event.get("type"), names, exc_info=True)


def publish(groups: str | Sequence[str], event: Mapping[str, Any]) -> None:
    """Publish after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_now(groups, event))


async def release_channel(layer: Any, channel: str) -> None:
    """Let go of a channel made with `new_channel()` outside a consumer (health, SSE).

    Channels has no delete_channel(). The Redis pub/sub layer stays subscribed to
    a channel until a receive() on it is cancelled, which is how a consumer's end
    looks to it; without this, every health check and SSE stream left a
    subscription behind in the web process. Other layers keep nothing to free.
    """
    loop_layer = layer._get_layer() if hasattr(layer, "_get_layer") else None
    if loop_layer is None or channel not in getattr(loop_layer, "channels", {}):
        return  # not a pub/sub layer, or already released (a cancelled receive does that)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)  # let it reach its wait, so cancelling it unsubscribes
    receiving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiving
