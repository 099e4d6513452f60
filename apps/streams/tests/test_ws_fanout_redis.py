"""Many log sockets in one web process cost Redis one subscription (the real Redis layer)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.events import logs_group
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import log_burst
from castcore.asgi import application

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="the pub/sub layer is used with REDIS_URL"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
]
HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


async def subscriptions() -> tuple[int, set[str]]:
    """(how many of this test process's channels Redis has subscribers for, their names).

    Pub/sub channels are server-wide: only those under this process's layer prefix count
    (other test workers subscribe to their own at the same time).
    """
    prefix = get_channel_layer()._get_layer().prefix
    client = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        names = {str(name) for name in await client.pubsub_channels(f"{prefix}*")}
        return len(names), names
    finally:
        await client.aclose()


async def test_ten_log_sockets_share_one_subscription_and_each_get_every_line() -> None:
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    job = await sync_to_async(job_with_outputs)({})
    before, _ = await subscriptions()
    path = f"/api/v1/ws/logs/{job.pk}?token={AccessToken.for_user(viewer)}&batch=1"
    sockets = [WebsocketCommunicator(application, path, headers=HEADERS) for _ in range(10)]
    for ws in sockets:
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "tail"
    try:
        count, names = await subscriptions()
        group = get_channel_layer()._get_layer()._get_group_channel_name(logs_group(job.pk))
        # The group and the process's one member channel (2), not a channel per socket
        # (12); Redis counts server-wide, so leave a little room for other clients.
        assert group in names
        assert count - before < len(sockets)
        layer = get_channel_layer()
        await layer.group_send(logs_group(job.pk), log_burst(job.pk, 0, 3))
        await layer.group_send(logs_group(job.pk), log_burst(job.pk, 3, 2))
        for ws in sockets:
            messages: list[str] = []
            while len(messages) < 5:
                frame = await ws.receive_json_from(timeout=5)
                messages += [line["message"] for line in frame["lines"]]
            assert messages == [f"line {n}" for n in range(5)]
    finally:
        for ws in sockets:
            await ws.disconnect()
    after, names = await subscriptions()
    assert group not in names  # the last socket out took the process out of the group
    assert after <= before
