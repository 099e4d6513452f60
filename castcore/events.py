"""The one way server-side code publishes live events to WebSocket consumers.

Events go through the channel layer (in-memory when embedded, Redis when
distributed), one group per topic: `job.<id>.logs`, `jobs.status`,
`scan.<id>`, … Consumers subscribe to groups and re-check permissions before
forwarding each event to their client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("castcore.events")


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
