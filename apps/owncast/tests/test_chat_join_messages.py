"""USER_JOINED on Owncast's chat socket: Owncast's shape (string ids, the user), and sent
only while the stream's `chat/joinmessagesenabled` is on (switched off while sockets are open)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.owncast.tests.admin_client import Admin, basic
from apps.owncast.tests.helpers import OwncastSocket, register

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _socket(name: str) -> tuple[dict[str, Any], OwncastSocket]:
    user = await sync_to_async(register)(name=name)
    socket = await OwncastSocket(f"/owncast/red/ws?accessToken={user['accessToken']}").connect()
    await socket.receive("CONNECTED_USER_INFO")
    return user, socket


async def test_user_joined_has_owncasts_shape_and_honours_the_setting(
    streams: dict[str, Any],
) -> None:
    watcher_user, watcher = await _socket("watcher")
    opened = [watcher]
    try:
        # Its own join first, then the next user's.
        own = await watcher.receive("USER_JOINED")
        assert own["user"]["id"] == watcher_user["id"]
        newcomer, socket = await _socket("newcomer")
        opened.append(socket)
        joined = await watcher.receive("USER_JOINED")
        assert joined["user"]["id"] == newcomer["id"] and isinstance(joined["user"]["id"], str)
        assert joined["user"]["displayName"] == "newcomer"
        assert isinstance(joined["id"], str) and joined["id"] and joined["timestamp"]

        admin = Admin("red", basic(streams["red_key"]))
        answer = await sync_to_async(admin.set)("chat/joinmessagesenabled", False)
        assert answer.json()["success"] is True
        late, socket = await _socket("latecomer")
        opened.append(socket)
        # A marker after the join: everything the watcher reads before it has no join.
        await socket.send({"type": "CHAT", "body": "after my join"})
        while (event := await watcher.receive())["type"] != "CHAT":
            assert event["type"] != "USER_JOINED", event
        assert event["body"] == "after my join" and event["user"]["id"] == late["id"]

        # Switched back on, joins are sent again.
        answer = await sync_to_async(admin.set)("chat/joinmessagesenabled", True)
        again, socket = await _socket("again")
        opened.append(socket)
        assert (await watcher.receive("USER_JOINED"))["user"]["id"] == again["id"]
    finally:
        for socket in opened:
            await socket.disconnect()
