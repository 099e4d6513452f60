"""Sockets on the real ASGI application (castcore.asgi), as a browser opens them."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from apps.chat import services
from castcore.asgi import application

HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


async def register(name: str | None = None) -> str:
    """A new anonymous identity's chat token."""
    _, token = await sync_to_async(services.identity_register)(display_name=name)
    return token


class ChatClient:
    """One chat socket: connects, and collects frames by type."""

    def __init__(
        self,
        stream: Any,
        *,
        chat_token: str | None = None,
        user: Any = None,
        since: int | None = None,
        address: str = "127.0.0.1",
    ) -> None:
        query = []
        if chat_token:
            query.append(f"access_token={chat_token}")
        if user is not None:
            query.append(f"token={AccessToken.for_user(user)}")
        if since is not None:
            query.append(f"since={since}")
        path = f"/api/v1/ws/chat/{stream.pk}" + ("?" + "&".join(query) if query else "")
        self.ws = WebsocketCommunicator(application, path, headers=HEADERS)
        self.ws.scope["client"] = (address, 50000)
        self.info: dict[str, Any] = {}
        self.backlog: list[dict[str, Any]] = []

    async def connect(self) -> ChatClient:
        connected, _ = await self.ws.connect(timeout=10)
        assert connected
        self.info = await self.receive("CONNECTED_USER_INFO")
        self.backlog = (await self.receive("BACKLOG"))["messages"]
        return self

    async def receive(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        """The next frame (of type `kind`, skipping others)."""
        while True:
            output = await self.ws.receive_output(timeout=timeout)
            assert output["type"] == "websocket.send", output
            frame = json.loads(output["text"])
            if kind is None or frame["type"] == kind:
                return frame

    async def close_code(self, timeout: float = 10) -> int:
        while True:
            output = await self.ws.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return int(output["code"])

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def say(self, body: str) -> None:
        await self.send({"type": "CHAT", "body": body})

    async def nothing_more(self, timeout: float = 0.3) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def disconnect(self) -> None:
        await self.ws.disconnect()
