from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from castcore.asgi import application
from castcore.tests.websockets import refusal_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def access_token(user: Any) -> str:
    # for_user() records an outstanding token row: database work, so off the loop.
    return str((await sync_to_async(RefreshToken.for_user)(user)).access_token)


def communicator(path: str, token: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def test_it_streams_system_figures_to_a_signed_in_user(viewer_user: Any) -> None:
    ws = communicator("/api/v1/ws/system", await access_token(viewer_user))
    connected, _ = await ws.connect()
    assert connected
    event = await ws.receive_json_from(timeout=10)
    assert event["type"] == "system"
    assert 0 <= event["memory"]["percent"] <= 100
    assert event["disk"]["total"] > 0 and event["processes"]["total"] > 0
    await ws.disconnect()


async def test_it_refuses_anonymous_sockets() -> None:
    ws = communicator("/api/v1/ws/system")
    assert await refusal_code(ws) == 4401


async def test_it_accepts_an_api_token_in_the_query_string(viewer_user: Any) -> None:
    from apps.accounts.services import api_token_create

    issued = await sync_to_async(api_token_create)(user=viewer_user, name="ws")
    ws = communicator(f"/api/v1/ws/system?token={issued.raw}")
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from(timeout=10))["type"] == "system"
    await ws.disconnect()


async def test_a_deactivated_user_is_cut_off(viewer_user: Any) -> None:
    from apps.system.consumers import SystemConsumer

    ws = communicator("/api/v1/ws/system", await access_token(viewer_user))
    SystemConsumer.interval = 0.2
    try:
        assert (await ws.connect())[0]
        await ws.receive_json_from(timeout=10)
        viewer_user.is_active = False
        await sync_to_async(viewer_user.save)()
        while True:
            output = await ws.receive_output(timeout=10)
            if output["type"] == "websocket.close":
                assert output["code"] == 4403
                break
    finally:
        SystemConsumer.interval = 2.0
