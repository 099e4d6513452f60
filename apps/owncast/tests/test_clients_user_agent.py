"""clients[].userAgent: the User-Agent the Owncast chat socket opened with (cut to a bound),
in the admin's and the integrations' clients lists; gone with the socket."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.owncast.models import ClientUserAgent
from apps.owncast.tests.admin_client import Admin, basic
from apps.owncast.tests.helpers import OwncastSocket, call, issue_token, register

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) OwncastTest/1.0"


async def _socket(name: str, user_agent: str) -> tuple[int, OwncastSocket]:
    user = await sync_to_async(register)(name=name)
    socket = OwncastSocket(
        f"/owncast/red/ws?accessToken={user['accessToken']}",
        headers=[(b"user-agent", user_agent.encode())],
    )
    await socket.connect()
    return (await socket.receive("CONNECTED_USER_INFO"))["clientId"], socket


async def test_the_clients_lists_show_each_sockets_user_agent(streams: dict[str, Any]) -> None:
    browser_id, browser = await _socket("browser", BROWSER)
    long_id, long = await _socket("long", "A" * 5000)
    try:
        admin = Admin("red", basic(streams["red_key"]))
        listed = (await sync_to_async(admin.get)("chat/clients")).json()
        agents = {client["clientID"]: client["userAgent"] for client in listed}
        assert agents == {browser_id: BROWSER, long_id: "A" * ClientUserAgent.MAX_LENGTH}
        raw = (await sync_to_async(issue_token)(["HAS_ADMIN_ACCESS"])).raw
        path = "/owncast/red/api/integrations/clients"
        clients = (await sync_to_async(call)("GET", path, raw)).json()
        assert {client["clientID"]: client["userAgent"] for client in clients} == agents
    finally:
        await browser.disconnect()
        await long.disconnect()
    assert not await ClientUserAgent.objects.aexists()
