"""The distributed mode's Redis pub/sub channel layer, against the real Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from django.conf import settings

from castcore.events import release_channel

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="the pub/sub layer is used with REDIS_URL"),
    pytest.mark.asyncio,
]


async def subscribers(channel: str) -> int:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_a_released_channel_leaves_no_subscription_behind() -> None:
    # The health check and SSE streams make channels outside consumers; each used to
    # stay subscribed in the web process for as long as it ran.
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "health.ping"
    assert await subscribers(channel) == 1

    await release_channel(layer, channel)

    assert await subscribers(channel) == 0
    assert channel not in layer._get_layer().channels
    await release_channel(layer, channel)  # twice is harmless


async def test_a_group_event_reaches_every_local_member_from_one_publish() -> None:
    layer = get_channel_layer()
    members = [await layer.new_channel("viewer.") for _ in range(3)]
    for channel in members:
        await layer.group_add("job.1.logs", channel)
    try:
        await layer.group_send("job.1.logs", {"type": "stream.log_batch", "frames": ["{}"]})
        received = await asyncio.gather(
            *(asyncio.wait_for(layer.receive(channel), 5) for channel in members)
        )
        assert [message["frames"] for message in received] == [["{}"]] * 3
        # One Redis subscription for the group in this process, not one per member.
        group_channel = layer._get_layer()._get_group_channel_name("job.1.logs")
        assert await subscribers(group_channel) == 1
    finally:
        for channel in members:
            await layer.group_discard("job.1.logs", channel)
            await release_channel(layer, channel)
