"""Process-local fan-out: a process joins a channel-layer group once for all its sockets.

Channels gives every socket a channel of its own in a group. An event for 200
viewers of one job's log is then copied into 200 queues (and deserialised 200
times by the Redis layer), wakes 200 consumer tasks and goes through 200
dispatches before the first byte is written. Here a process joins the group
with one channel and hands each event to its local subscribers in one pass.

Events that arrive while a pass is running wait and go together in the next
pass: a burst costs each socket a few deliveries, not one per event. Events a
service produced together can be sent as one channel-layer message
(`send_together`: one PUBLISH with Redis); subscribers get them as if each had
been sent on its own, in the same pass. The pass
yields to the event loop every few sockets: a pass over hundreds of sockets
does not hold up the process's other sockets and requests, and frames that go
through the server's own write queue (rather than straight to the socket,
castcore.ws.send_text_frames) are written while the rest are prepared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from channels.layers import get_channel_layer

from castcore.events import release_channel

logger = logging.getLogger("castcore.fanout")
T = TypeVar("T")

# Sockets handed an event between two yields to the event loop.
SOCKETS_PER_SLICE = 16
# Pause before receiving again after the layer failed a receive.
RERECEIVE_SECONDS = 1.0
# How often the process renews its membership (layers expire members after a day).
REJOIN_SECONDS = 600.0
# The channel-layer alias of consumers whose events all come through here: one that is
# not configured, so Channels gives their sockets no channel of their own (with Redis,
# a subscription each that nothing would ever be sent to).
NO_CHANNEL_LAYER = "castcore.fanout.none"
# The type of a channel-layer message that carries several events of one group.
BATCH = "fanout.batch"


async def send_together(layer: Any, group: str, events: list[dict[str, Any]]) -> None:
    """Send `events` to `group` in one channel-layer message, in order.

    For groups whose members all read through this module: a member that is a plain
    Channels consumer would get one `fanout.batch` message instead of the events.
    """
    if len(events) == 1:
        await layer.group_send(group, events[0])
    elif events:
        await layer.group_send(group, {"type": BATCH, "events": events})


@dataclass
class Delivery:
    """Events handed to every subscriber in one pass, in the order the group received them.

    `shared` is for what subscribers derive from the events alike (the encoded
    frame, say): the first one builds it, the other 199 reuse it.
    """

    events: list[dict[str, Any]]
    shared: dict[Hashable, Any] = field(default_factory=dict)

    def once(self, key: Hashable, build: Callable[[], T]) -> T:
        if key not in self.shared:
            self.shared[key] = build()
        return cast(T, self.shared[key])


class Subscriber(Protocol):
    async def deliver(self, delivery: Delivery) -> None:
        """Forward the delivery's events to this socket."""


class HeldUntilOpened:
    """For consumers: what the group delivers before the socket's opening frame waits for it.

    A socket sends what already happened first (a log tail, a status snapshot),
    read after joining so nothing falls between the two; live events that
    arrive meanwhile follow it in order. Subclasses implement `forward`.
    """

    _group: str | None = None
    _held: list[dict[str, Any]] | None = None

    async def subscribe(self, group: str) -> None:
        self._held = []
        self._group = group
        await join(group, self)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        # Channels calls disconnect() only for sockets that connected: a connect that
        # fails (or is cancelled) after subscribe() must leave the group itself, or the
        # group would keep holding events for it for the life of the process.
        try:
            await super().websocket_connect(message)  # type: ignore[misc]
        except BaseException:
            await self.unsubscribe()
            raise

    async def opened(self) -> None:
        """The opening frame is sent: forward what was held, then everything as it comes."""
        while self._held:
            held, self._held = self._held, []
            await self.forward(Delivery(held))
        self._held = None

    async def unsubscribe(self) -> None:
        if self._group is not None:
            await leave(self._group, self)

    async def deliver(self, delivery: Delivery) -> None:
        if self._held is not None:
            self._held.extend(delivery.events)
        else:
            await self.forward(delivery)

    async def forward(self, delivery: Delivery) -> None:
        raise NotImplementedError


class _LocalGroup:
    """One group's membership in this process: a channel, its reader, and the subscribers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.layer: Any = get_channel_layer()
        # A dict for its order: the socket that joined first is served first.
        self.subscribers: dict[Subscriber, None] = {}
        self.channel: str | None = None
        self._joined = asyncio.get_running_loop().create_future()
        self._pending: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.sender: asyncio.Future[None] | None = None
        self._task = asyncio.ensure_future(self._run())

    async def joined(self) -> None:
        """Wait until the channel is in the group: events sent from now on reach this process."""
        await asyncio.shield(self._joined)

    async def _run(self) -> None:
        try:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.name, self.channel)
        except BaseException as error:
            self._joined.set_exception(error)
            raise
        self._joined.set_result(None)
        sender = self.sender = asyncio.ensure_future(self._send_loop())
        rejoining = asyncio.ensure_future(self._rejoin_loop())
        try:
            while True:
                try:
                    event = await self.layer.receive(self.channel)
                except Exception:
                    # The Redis layer re-subscribes when it reconnects; keep listening.
                    logger.warning("receive on %s failed", self.name, exc_info=True)
                    await asyncio.sleep(RERECEIVE_SECONDS)
                    continue
                if event.get("type") == BATCH:
                    self._pending.extend(event["events"])
                else:
                    self._pending.append(event)
                self._arrived.set()
        finally:
            for task in (sender, rejoining):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _rejoin_loop(self) -> None:
        # Layers forget group members after group_expiry (a day); this membership lasts
        # as long as any socket of the group is open, which on a wall display is weeks.
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await self.layer.group_add(self.name, self.channel)
            except Exception:
                logger.warning("could not renew membership of %s", self.name, exc_info=True)

    async def _send_loop(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            delivery, self._pending = Delivery(self._pending), []
            for position, subscriber in enumerate(list(self.subscribers)):
                if position and position % SOCKETS_PER_SLICE == 0:
                    await asyncio.sleep(0)
                if subscriber not in self.subscribers:  # left during this pass
                    continue
                try:
                    await subscriber.deliver(delivery)
                except Exception:
                    # One broken socket must not cost the others their events.
                    logger.warning("delivery to a %s subscriber failed", self.name, exc_info=True)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # a failed join raised already
            await self._task
        if self.channel is None:
            return
        try:
            await self.layer.group_discard(self.name, self.channel)
            await release_channel(self.layer, self.channel)
        except Exception:
            # The layer forgets members by itself (group expiry); nothing is left to undo here.
            logger.warning("could not leave group %s", self.name, exc_info=True)


# Per event loop: a group's channel and reader belong to the loop that made them.
_groups: dict[tuple[asyncio.AbstractEventLoop, str], _LocalGroup] = {}
# Groups being closed on behalf of a subscriber that left during a delivery.
_closing: set[asyncio.Future[None]] = set()


async def join(name: str, subscriber: Subscriber) -> None:
    """Start delivering `name`'s events to `subscriber`; returns once they are sure to arrive."""
    key = (asyncio.get_running_loop(), name)
    group = _groups.get(key)
    if group is None:
        group = _groups[key] = _LocalGroup(name)
    group.subscribers[subscriber] = None
    try:
        await group.joined()
    except BaseException:
        await leave(name, subscriber)
        raise


async def leave(name: str, subscriber: Subscriber) -> None:
    """Stop delivering to `subscriber`; the last one out takes the process out of the group."""
    key = (asyncio.get_running_loop(), name)
    group = _groups.get(key)
    if group is None:
        return
    group.subscribers.pop(subscriber, None)
    if not group.subscribers:
        # Out of the registry first: a socket that joins meanwhile gets a group of its own.
        del _groups[key]
        closing = asyncio.ensure_future(group.close())
        if asyncio.current_task() is group.sender:
            # A subscriber left from inside its delivery (say, access was revoked): the
            # pass it is in ends when the group closes, so it must not wait for that.
            _closing.add(closing)
            closing.add_done_callback(_closing.discard)
        else:
            await closing
