"""Clients of the Owncast surface for tests: tokens, HTTP calls and the chat socket."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.integrations.tokens import integration_token_create
from apps.owncast.auth import castcore_scopes
from castcore.asgi import application

HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def issue_token(owncast_scopes: list[str], name: str = "bot") -> Any:
    """An integration token with Owncast's scopes (`.raw`, `.token`)."""
    return integration_token_create(actor=None, name=name, scopes=castcore_scopes(owncast_scopes))


def call(method: str, path: str, raw_token: str | None = None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {raw_token}"} if raw_token else {}
    data = json.dumps(body) if body is not None else ""
    return Client().generic(method, path, data, "application/json", headers=headers)


def register(base: str = "/owncast/red", name: str | None = None) -> dict[str, Any]:
    body = {"displayName": name} if name else None
    response = call("POST", f"{base}/api/chat/register", body=body)
    assert response.status_code == 200, response.content
    return dict(response.json())


class OwncastSocket:
    """One Owncast chat socket on the real ASGI application: frames split on newlines."""

    def __init__(
        self, path: str, address: str = "127.0.0.1", headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        self.ws = WebsocketCommunicator(application, path, headers=[*HEADERS, *headers])
        self.ws.scope["client"] = (address, 50000)
        self.pending: list[dict[str, Any]] = []
        self.frames: list[str] = []

    async def connect(self) -> OwncastSocket:
        connected, _ = await self.ws.connect(timeout=10)
        assert connected
        return self

    async def receive(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        """The next event (of type `kind`, skipping others), one line of a frame at a time."""
        while True:
            while self.pending:
                event = self.pending.pop(0)
                if kind is None or event.get("type") == kind:
                    return event
            output = await self.ws.receive_output(timeout=timeout)
            assert output["type"] == "websocket.send", output
            self.frames.append(output["text"])
            self.pending = [json.loads(line) for line in output["text"].split("\n")]

    async def close_code(self, timeout: float = 10) -> int:
        while True:
            output = await self.ws.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return int(output["code"])
            self.pending += [json.loads(line) for line in output["text"].split("\n")]

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def disconnect(self) -> None:
        await self.ws.disconnect()
