"""Text frames encoded once and written straight to daphne's sockets (castcore.ws)."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
from collections.abc import Iterator
from typing import Any

import daphne.server
import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from castcore.ws import TextFrames, _send_now, send_text_frames

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


@pytest.mark.asyncio
async def test_frames_written_directly_are_the_bytes_autobahn_writes_in_one_write() -> None:
    socket = Socket()
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS[:2]), TextFrames.of(TEXTS[2:]))
    assert socket.writes == [socket.autobahn_bytes(TEXTS)]
    assert socket.protocol.trafficStats.outgoingWebSocketFrames == 0  # autobahn was not asked


@pytest.mark.asyncio
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


@pytest.mark.asyncio
async def test_a_closing_socket_is_sent_nothing_and_nothing_raises() -> None:
    socket = Socket()
    socket.protocol.state = socket.protocol.STATE_CLOSING
    # (autobahn itself raises Disconnected for each message sent to a closing socket)
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS))
    assert socket.writes == []


@pytest.mark.asyncio
async def test_queued_data_goes_first_through_asgi() -> None:
    socket = Socket()
    socket.protocol.send_queue.append((b"queued", False))
    socket.protocol._trigger = lambda: None  # the queue drains later, on the reactor
    await send_text_frames(socket.consumer(), TextFrames.of(TEXTS[:1]))
    assert socket.writes == []
    assert len(socket.protocol.send_queue) == 2  # behind the queued data, not ahead of it


class Reactor:
    """Where a Twisted transport registers itself to be told when it may write."""

    def __init__(self) -> None:
        self.writers: set[Any] = set()

    def addWriter(self, writer: Any) -> None:  # (Twisted's names)
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        self.writers.discard(writer)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[Any, socket.socket, Reactor]]:
    """A Twisted TCP transport on one end of a loopback connection, and the other end."""
    from twisted.internet import tcp

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up fast
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reactor = Reactor()
    transport = tcp.Connection(server, protocol=None, reactor=reactor)  # type: ignore[arg-type]
    transport.connected = True
    yield transport, client, reactor
    client.close()
    server.close()


def received(peer: socket.socket, size: int) -> bytes:
    data = b""
    peer.settimeout(5)
    while len(data) < size:
        data += peer.recv(1 << 20)
    return data


def test_frames_go_to_the_socket_at_once_when_nothing_waits(tcp_pair: Any) -> None:
    transport, peer, reactor = tcp_pair
    _send_now(transport, b"frame one")
    assert received(peer, 9) == b"frame one"
    assert not reactor.writers and not transport._tempDataBuffer  # nothing left for the loop


def test_what_the_socket_does_not_take_is_queued_and_later_frames_queue_behind_it(
    tcp_pair: Any,
) -> None:
    transport, peer, reactor = tcp_pair
    big = bytes(range(256)) * 4_000  # 1 MB: more than the socket buffers hold
    _send_now(transport, big)
    assert reactor.writers == {transport}  # the rest waits for the loop
    _send_now(transport, b"after")  # must not overtake what is queued
    peer.setblocking(False)
    data = bytearray()
    while len(data) < len(big) + 5:
        if transport in reactor.writers:
            transport.doWrite()  # the event loop's turn: the socket may take more
        with contextlib.suppress(BlockingIOError):
            data += peer.recv(1 << 20)
    assert data == big + b"after"


def test_a_closed_peer_is_left_for_the_transport_to_notice(tcp_pair: Any) -> None:
    transport, peer, _ = tcp_pair
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # reset: the next sends fail
    for _ in range(3):
        _send_now(transport, b"x" * 1000)  # no exception reaches the fan-out
