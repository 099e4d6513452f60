"""A CHAT sent on the Owncast socket is stored before anyone sees it echoed, and a read of
the stream's messages made while it is being stored waits for it (Owncast's own tests send,
close the socket and read the admin's list at once)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from apps.owncast.tests.admin_client import Admin, basic
from apps.owncast.tests.helpers import OwncastSocket, register

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="holds a table lock of PostgreSQL's"
    ),
]


class InsertsHeld:
    """Chat messages cannot be inserted while this holds its lock; reads go on."""

    def __init__(self) -> None:
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # EXCLUSIVE blocks INSERT (ROW EXCLUSIVE), not SELECT (ACCESS SHARE).
                cursor.execute("LOCK TABLE chat_chatmessage IN EXCLUSIVE MODE")
                self.locked.set()
                self.release.wait(30)
        finally:
            connection.close()

    def __enter__(self) -> InsertsHeld:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


async def test_a_read_during_the_store_waits_for_the_message(streams: dict[str, Any]) -> None:
    alice = await sync_to_async(register)("/owncast/red", "alice")
    socket = await OwncastSocket(f"/owncast/red/ws?accessToken={alice['accessToken']}").connect()
    admin = Admin("red", basic(streams["red_key"]))
    try:
        await socket.receive("USER_JOINED")  # its own join, after the opening
        with InsertsHeld() as held:
            await socket.send({"type": "CHAT", "body": "read me right after"})
            # Stored before it is broadcast: no echo while the insert waits.
            assert await socket.ws.receive_nothing(timeout=0.5)
            read = asyncio.ensure_future(
                sync_to_async(admin.get, thread_sensitive=False)("chat/messages")
            )
            await asyncio.sleep(0.5)
            assert not read.done()  # the read waits for the send in flight
            held.release.set()
            response = await asyncio.wait_for(read, 10)
        assert response.status_code == 200
        assert [m["body"] for m in response.json()] == ["read me right after"]
        echo = await socket.receive("CHAT")
        assert echo["body"] == "read me right after"
        history = await sync_to_async(admin.client.get)(
            f"/owncast/red/api/chat?accessToken={alice['accessToken']}"
        )
        assert [m["body"] for m in history.json()] == ["read me right after"]
    finally:
        await socket.disconnect()
