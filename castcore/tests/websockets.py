"""Test helper: how a WebSocket refusal looks from the client."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator


async def refusal_code(ws: WebsocketCommunicator) -> int:
    """Connect and return the close code; fails if the server refused before the handshake.

    A close before the handshake reaches a real client as a bare HTTP 403 with no code.
    The disconnect afterwards is what daphne does: without it the consumer's
    channel-layer receive stays pending until the event loop is torn down.
    """
    connected, _ = await ws.connect()
    assert connected, "refused before the handshake: a client would see a bare HTTP 403"
    message = await ws.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await ws.disconnect()
    return int(message["code"])
