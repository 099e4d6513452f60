"""Text frames encoded once and written straight to daphne's sockets (castcore.ws)."""

from __future__ import annotations

import functools
from typing import Any

import daphne.server
import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from castcore.ws import TextFrames, send_text_frames

pytestmark = pytest.mark.asyncio

# One of each length encoding (7-bit, 16-bit, 64-bit), and text that is not ASCII.
TEXTS = ["short", "é" * 100, "x" * 300, "y" * 70_000, '{"message": "naïve ☃"}']


class Socket:
    """A daphne WebSocket protocol, open, on a transport that keeps each write."""

    def __init__(self) -> None:
        self.server = daphne.server.Server(application=None, endpoints=["tcp:port=0"])
        factory = WebSocketFactory(self.server)
        self.protocol: Any = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.protocol.state = self.protocol.STATE_OPEN  # the handshake is not under test
        self.protocol.client_addr = ["127.0.0.1", 50000]  # set by daphne when it opens
        self.server.connections = {self.protocol: {}}  # as Server.run() keeps them
        self.writes: list[bytes] = []
        write = self.transport.write

        def keep(data: bytes) -> None:
            self.writes.append(bytes(data))
            write(data)

        self.transport.write = keep  # type: ignore[method-assign]

    def consumer(self) -> AsyncWebsocketConsumer:
        consumer = AsyncWebsocketConsumer()
        # What daphne hands each application as its send.
        consumer.base_send = functools.partial(self.server.handle_reply, self.protocol)
        return consumer

    def autobahn_bytes(self, texts: list[str]) -> bytes:
        """What autobahn itself writes for these messages, one sendMessage each."""
        reference = Socket()
        for text in texts:
            reference.protocol.sendMessage(text.encode())
        return bytes(reference.transport.value())


async def test_frames_written_directly_are_the_bytes_autobahn_writes_in_one_write() -> None:
    socket = Socket()
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS[:2]), TextFrames.of(TEXTS[2:]))
    assert socket.writes == [socket.autobahn_bytes(TEXTS)]
    assert socket.protocol.trafficStats.outgoingWebSocketFrames == 0  # autobahn was not asked


async def test_a_socket_with_compression_gets_its_frames_through_asgi() -> None:
    socket = Socket()
    # Compressed frames differ per socket. (daphne does not offer compression, but a
    # socket that had it must not get uncompressed frames written behind its back.)
    socket.protocol._perMessageCompress = object()
    consumer = socket.consumer()
    sent: list[str | None] = []

    async def send(text_data: str | None = None, **_: Any) -> None:
        sent.append(text_data)

    consumer.send = send
    await send_text_frames(consumer, TextFrames.of(TEXTS))
    assert sent == TEXTS
    assert socket.writes == []


async def test_a_closing_socket_gets_nothing_written() -> None:
    socket = Socket()
    socket.protocol.state = socket.protocol.STATE_CLOSING
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS))
    assert socket.writes == []  # the ASGI path: autobahn drops messages for a closing socket


async def test_queued_data_goes_first_through_asgi() -> None:
    socket = Socket()
    socket.protocol.send_queue.append((b"queued", False))
    socket.protocol._trigger = lambda: None  # the queue drains later, on the reactor
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS[:1]))
    assert socket.writes == []
    assert len(socket.protocol.send_queue) == 2  # behind the queued data, not ahead of it
