"""What every WebSocket consumer shares: close codes, ids taken from the URL, shared frames."""

from __future__ import annotations

import functools
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from castcore.api.filters import parse_id

# 4000 + the HTTP status a REST call would have answered with.
CLOSE_BAD_DATA = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# RFC 6455: the server met a condition that kept it from serving (the database was
# unreachable): the client should connect again and read the current state.
CLOSE_INTERNAL_ERROR = 1011


async def refuse(consumer: Any, code: int) -> None:
    """Refuse a socket in connect() with `code`: accept the handshake, then close.

    A close sent before the handshake is answered with a bare HTTP 403, and the
    client never learns why (not signed in, not allowed, no such row). Accepted
    with the first subprotocol the client offered: one that offered some fails a
    handshake that picks none, and would again see no code.
    """
    offered = consumer.scope.get("subprotocols") or []
    await consumer.accept(subprotocol=offered[0] if offered else None)
    await consumer.close(code=code)


def route_id(scope: dict[str, Any], name: str) -> int | None:
    """The id in the URL, or None when no row can have it.

    Routes match digits of any length (`<int:…>` would turn a 5000-digit id into
    "no route", which the server answers with a bare 403); `parse_id` bounds them
    before any query.
    """
    return parse_id(str(scope["url_route"]["kwargs"][name]))


@dataclass(frozen=True)
class TextFrames:
    """Text messages for many sockets, encoded once as the frames a server writes.

    A server's frames are not masked (RFC 6455, 5.1), so without compression the
    bytes on the wire are the same for every socket a message goes to.
    """

    texts: tuple[str, ...]
    wire: bytes

    @classmethod
    def of(cls, texts: Iterable[str]) -> TextFrames:
        texts = tuple(texts)
        return cls(texts, b"".join(_text_frame(text) for text in texts))


def _text_frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return header + payload


_FIN_TEXT = 0x81  # a whole message (FIN) of opcode 1 (text)


async def send_text_frames(consumer: Any, *frames: TextFrames) -> None:
    """Send each text of `frames` to the consumer's socket as one text message.

    Under daphne, the encoded frames go to the socket in one write (`_send_now`).
    Through ASGI, each message takes its own trip through channels, daphne and
    autobahn, which builds the frame and formats its debug-log arguments (even
    with debug off): a burst of 37 log lines for 200 sockets was 7,400 such trips,
    most of a web process's time in the burst. Both paths write in call order, so
    frames sent either way stay in order. Elsewhere (another server, a test
    communicator) and where the bytes would differ (compression, data queued
    first), the texts go through `consumer.send` as usual.
    """
    if not frames:
        return
    protocol = _daphne_socket(consumer)
    if protocol is None:
        await _send_each(consumer, frames)
    elif protocol.state in (protocol.STATE_CLOSING, protocol.STATE_CLOSED):
        # The socket is on its way out (its disconnect will unsubscribe it): nothing
        # reaches the client now, and autobahn would raise for each message.
        return
    elif _takes_frames_as_encoded(protocol):
        data = frames[0].wire if len(frames) == 1 else b"".join(batch.wire for batch in frames)
        _send_now(protocol.transport, data)
    else:
        await _send_each(consumer, frames)


def _takes_frames_as_encoded(protocol: Any) -> bool:
    """No compression (its frames differ per socket), no data queued to go first, and
    none of autobahn's debug logging of each frame."""
    return (
        protocol._perMessageCompress is None
        and not protocol.send_queue
        and not (protocol.logFrames or protocol.logOctets)
    )


def _send_now(transport: Any, data: bytes) -> None:
    """Write `data` to a TCP transport of Twisted's: to the socket itself when nothing waits.

    A transport's write() only queues: it registers the socket with the event loop
    (epoll_ctl) and sends on the loop's next turn, then unregisters it (epoll_ctl
    again), through Twisted's write machinery. For a fan-out to 200 sockets that
    was most of the time of a pass, and the event loop's turns between sockets
    delayed the later ones. With nothing queued before it, sending at once is what
    the transport would do on its next turn; whatever the socket does not take now
    is queued behind it as usual, and anything queued means the queue goes first.
    Plain TCP only: TLS (and any other transport) gets write().
    """
    tcp = sys.modules.get("twisted.internet.tcp")
    if not (
        tcp is not None
        and isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    ):
        transport.write(data)
        return
    try:
        sent = transport.socket.send(data)
    except BlockingIOError:
        sent = 0
    except OSError:
        return  # the peer is gone: the transport learns so from its own reads and closes
    if sent < len(data):
        transport.write(data[sent:])


async def _send_each(consumer: Any, frames: tuple[TextFrames, ...]) -> None:
    for batch in frames:
        for text in batch.texts:
            await consumer.send(text_data=text)


_NOT_DAPHNE = object()


def _daphne_socket(consumer: Any) -> Any | None:
    """daphne's protocol object for the consumer's socket, or None under another server.

    daphne hands each application `partial(server.handle_reply, protocol)` as its
    send. The attributes read from the protocol and its transport are autobahn's
    and Twisted's (both pinned in requirements.txt; test_ws_frames checks them
    against the real classes). Found once per consumer (its send never changes): a
    fan-out pass asks for each of a thousand sockets.
    """
    found = consumer.__dict__.get("_castcore_daphne_socket")
    if found is None:
        found = consumer.__dict__["_castcore_daphne_socket"] = _find_daphne_socket(consumer)
    return None if found is _NOT_DAPHNE else found


def _find_daphne_socket(consumer: Any) -> Any:
    daphne_ws = sys.modules.get("daphne.ws_protocol")  # not loaded: not served by daphne
    send = getattr(consumer, "base_send", None)
    if daphne_ws is None or not isinstance(send, functools.partial) or not send.args:
        return _NOT_DAPHNE
    protocol = send.args[0]
    return protocol if isinstance(protocol, daphne_ws.WebSocketProtocol) else _NOT_DAPHNE
