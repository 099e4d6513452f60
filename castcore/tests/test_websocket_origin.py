"""Browser sockets must come from our own origin; the CLI's producer socket has none."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from apps.recordings.tests.factories import a_stream
from castcore.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _close_thread_connections() -> Any:
    yield
    connections.close_all()


async def test_a_producer_without_an_origin_header_is_accepted() -> None:
    stream = await sync_to_async(a_stream)()
    producer = WebsocketCommunicator(
        application,
        f"/ws/S/{stream.producer_token}",
        headers=[(b"host", b"localhost")],
        subprotocols=["v1.alis"],
    )
    connected, _ = await producer.connect()
    assert connected
    await producer.disconnect()


async def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    ws = WebsocketCommunicator(
        application,
        "/api/v1/ws/system",
        headers=[(b"origin", b"https://evil.example"), (b"host", b"localhost")],
    )
    connected, _ = await ws.connect()
    assert not connected


async def test_a_producer_path_is_still_authenticated_by_its_token() -> None:
    producer = WebsocketCommunicator(
        application, "/ws/S/not-a-real-token-xyz", headers=[(b"host", b"localhost")]
    )
    connected, _ = await producer.connect()
    assert not connected
