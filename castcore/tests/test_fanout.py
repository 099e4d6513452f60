"""Process-local fan-out, against the configured channel layer (in-memory, or Redis in CI)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from castcore import fanout

pytestmark = pytest.mark.asyncio
GROUP = "fanout.test"


class Recorder:
    """A subscriber that keeps every delivery; `hold` makes its deliveries wait."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.deliveries: list[list[str]] = []
        self.hold = hold
        self.got = asyncio.Event()

    async def deliver(self, delivery: fanout.Delivery) -> None:
        self.deliveries.append([event["n"] for event in delivery.events])
        self.got.set()
        if self.hold is not None:
            await self.hold.wait()

    async def next(self) -> list[str]:
        await asyncio.wait_for(self.got.wait(), 5)
        self.got.clear()
        return self.deliveries[-1]


def event(n: str) -> dict[str, Any]:
    return {"type": "test.event", "n": n}


async def members(name: str) -> int:
    """How many channels of the layer belong to `name` (this process's view, any layer)."""
    layer = get_channel_layer()
    if hasattr(layer, "_get_layer"):  # Redis pub/sub: groups are kept per loop, by Redis name
        inner = layer._get_layer()
        return len(inner.groups.get(inner._get_group_channel_name(name), ()))
    return len(layer.groups.get(name, ()))


async def test_every_subscriber_gets_each_event_through_one_membership() -> None:
    subscribers = [Recorder() for _ in range(3)]
    for subscriber in subscribers:
        await fanout.join(GROUP, subscriber)
    try:
        assert await members(GROUP) == 1  # one channel for the process, not one per socket
        await get_channel_layer().group_send(GROUP, event("a"))
        assert [await s.next() for s in subscribers] == [["a"]] * 3
    finally:
        for subscriber in subscribers:
            await fanout.leave(GROUP, subscriber)
    assert await members(GROUP) == 0  # the last one out took the process out of the group


async def test_events_that_arrive_during_a_pass_go_together_in_the_next() -> None:
    release = asyncio.Event()
    slow = Recorder(hold=release)
    await fanout.join(GROUP, slow)
    layer = get_channel_layer()
    try:
        await layer.group_send(GROUP, event("1"))
        assert await slow.next() == ["1"]  # and now it is stuck in that delivery
        for n in ("2", "3", "4"):
            await layer.group_send(GROUP, event(n))
        await asyncio.sleep(0.2)  # the layer hands them over while the pass still runs
        release.set()
        assert await slow.next() == ["2", "3", "4"]
    finally:
        await fanout.leave(GROUP, slow)


async def test_events_sent_together_reach_each_subscriber_in_one_pass_in_order() -> None:
    first, second = Recorder(), Recorder()
    await fanout.join(GROUP, first)
    await fanout.join(GROUP, second)
    try:
        batch = [event("1"), event("2"), event("3")]
        await fanout.send_together(get_channel_layer(), GROUP, batch)
        assert await first.next() == ["1", "2", "3"]
        assert await second.next() == ["1", "2", "3"]
        await fanout.send_together(get_channel_layer(), GROUP, [event("4")])
        assert await first.next() == ["4"]
    finally:
        await fanout.leave(GROUP, first)
        await fanout.leave(GROUP, second)


async def test_a_failing_subscriber_costs_the_others_nothing() -> None:
    class Broken:
        async def deliver(self, delivery: fanout.Delivery) -> None:
            raise ConnectionResetError("the socket went away")

    broken, healthy = Broken(), Recorder()
    await fanout.join(GROUP, broken)
    await fanout.join(GROUP, healthy)
    try:
        for n in ("x", "y"):
            await get_channel_layer().group_send(GROUP, event(n))
            assert await healthy.next() == [n]
    finally:
        await fanout.leave(GROUP, broken)
        await fanout.leave(GROUP, healthy)


async def test_a_subscriber_may_leave_from_inside_its_delivery() -> None:
    # What a socket does when its user lost access: it must not wait for the pass it is in.
    class Quitter(Recorder):
        async def deliver(self, delivery: fanout.Delivery) -> None:
            await super().deliver(delivery)
            await fanout.leave(GROUP, self)

    quitter, stayer = Quitter(), Recorder()
    await fanout.join(GROUP, quitter)
    await fanout.join(GROUP, stayer)
    try:
        await get_channel_layer().group_send(GROUP, event("1"))
        assert await quitter.next() == ["1"] and await stayer.next() == ["1"]
        await get_channel_layer().group_send(GROUP, event("2"))
        assert await stayer.next() == ["2"]
        assert quitter.deliveries == [["1"]]
    finally:
        await fanout.leave(GROUP, stayer)
    # The group, emptied from inside a delivery, is gone; joining again starts afresh.
    again = Recorder()
    await fanout.join(GROUP, again)
    try:
        await get_channel_layer().group_send(GROUP, event("3"))
        assert await again.next() == ["3"]
    finally:
        await fanout.leave(GROUP, again)


async def test_what_subscribers_derive_alike_is_built_once_per_pass() -> None:
    built: list[str] = []

    def encode() -> str:
        built.append("x")
        return "encoded"

    class Encoder(Recorder):
        async def deliver(self, delivery: fanout.Delivery) -> None:
            frame = delivery.once("frame", encode)
            assert frame == "encoded"
            await super().deliver(delivery)

    encoders = [Encoder() for _ in range(5)]
    for encoder in encoders:
        await fanout.join(GROUP, encoder)
    try:
        await get_channel_layer().group_send(GROUP, event("a"))
        assert [await e.next() for e in encoders] == [["a"]] * 5
        assert built == ["x"]
    finally:
        for encoder in encoders:
            await fanout.leave(GROUP, encoder)


async def test_a_held_subscriber_forwards_what_came_before_it_opened_first() -> None:
    forwarded: list[list[str]] = []

    class Socket(fanout.HeldUntilOpened):
        async def forward(self, delivery: fanout.Delivery) -> None:
            forwarded.append([event["n"] for event in delivery.events])

    socket = Socket()
    await socket.subscribe(GROUP)
    try:
        for n in ("1", "2"):
            await get_channel_layer().group_send(GROUP, event(n))
        await asyncio.sleep(0.2)
        assert forwarded == []  # the opening frame has not gone yet
        forwarded.append(["opening"])
        await socket.opened()
        await get_channel_layer().group_send(GROUP, event("3"))
        for _ in range(50):
            if len(forwarded) == 3:
                break
            await asyncio.sleep(0.05)
        assert forwarded == [["opening"], ["1", "2"], ["3"]]
    finally:
        await socket.unsubscribe()


async def test_a_socket_whose_connect_fails_leaves_the_group() -> None:
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.testing import WebsocketCommunicator

    class Failing(fanout.HeldUntilOpened, AsyncWebsocketConsumer):
        channel_layer_alias = fanout.NO_CHANNEL_LAYER

        async def connect(self) -> None:
            await self.subscribe(GROUP)
            raise RuntimeError("the tail could not be read")

    ws = WebsocketCommunicator(Failing.as_asgi(), "/")
    with pytest.raises(RuntimeError):
        await ws.connect()
    assert (asyncio.get_running_loop(), GROUP) not in fanout._groups
    assert await members(GROUP) == 0


async def test_the_membership_is_renewed_before_the_layer_forgets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout, "REJOIN_SECONDS", 0.05)
    layer = get_channel_layer()
    adds: list[str] = []
    real_add = layer.group_add

    async def counted(group: str, channel: str) -> None:
        adds.append(group)
        await real_add(group, channel)

    monkeypatch.setattr(layer, "group_add", counted)
    subscriber = Recorder()
    await fanout.join(GROUP, subscriber)
    try:
        await asyncio.sleep(0.3)
        assert adds.count(GROUP) >= 3  # the join, then again every REJOIN_SECONDS
        await layer.group_send(GROUP, event("still here"))
        assert await subscriber.next() == ["still here"]
    finally:
        await fanout.leave(GROUP, subscriber)
