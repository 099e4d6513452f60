"""/ws?accessToken=…: Owncast's chat socket on the real ASGI app, beside the native one.

The chat app's own socket (apps.chat.tests.helpers.ChatClient) and an Owncast client
share a stream's chat: each sees the other's messages, renames, joins and hides, each
in its own protocol.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat import services as chat_services
from apps.chat.models import ChatIdentity, ChatMessage
from apps.chat.tests.helpers import ChatClient
from apps.chat.tests.helpers import register as native_register
from apps.owncast import chat_events
from apps.owncast.models import StreamOwncastSettings
from apps.owncast.tests.helpers import OwncastSocket, call, issue_token
from castcore.ws import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _register(base: str = "/owncast/red", name: str | None = None) -> dict[str, Any]:
    body = {"displayName": name} if name else None
    response = await sync_to_async(call)("POST", f"{base}/api/chat/register", None, body)
    assert response.status_code == 200
    return dict(response.json())


def _bodies(with_stream: bool = False) -> list[str]:
    return [
        f"{m.stream.slug}: {m.body}" if with_stream else m.body
        for m in ChatMessage.objects.select_related("stream").order_by("id")
    ]


async def _socket(user: dict[str, Any], path: str = "/owncast/red/ws") -> OwncastSocket:
    return await OwncastSocket(f"{path}?accessToken={user['accessToken']}").connect()


async def test_an_owncast_client_and_a_native_one_chat_together(streams: dict[str, Any]) -> None:
    native = await ChatClient(streams["red"], chat_token=await native_register("native")).connect()
    user = await _register(name="owncaster")
    owncast = await _socket(user)
    try:
        info = await owncast.receive("CONNECTED_USER_INFO")
        assert info["user"]["id"] == user["id"] and info["user"]["displayName"] == "owncaster"
        assert isinstance(info["clientId"], int)
        # Its join reaches the native client as the chat app sends it (after the native
        # client's own).
        while (joined := await native.receive("USER_JOINED"))["user"]["displayName"] != "owncaster":
            assert joined["user"]["displayName"] == "native"

        await owncast.send({"type": "CHAT", "body": "hello from owncast"})
        mine = await owncast.receive("CHAT")
        seen = await native.receive("CHAT")
        assert mine["body"] == seen["body"] == "hello from owncast"
        assert mine["id"] == str(seen["id"]) and mine["user"]["id"] == user["id"]

        await native.say("and **back**")
        back = await owncast.receive("CHAT")
        assert back["body"] == "and <strong>back</strong>" and isinstance(back["id"], str)
        assert back["user"]["displayName"] == "native" and back["visible"] is True
        stored = await sync_to_async(_bodies)()
        assert sorted(stored) == ["and **back**", "hello from owncast"]
    finally:
        await owncast.disconnect()
        await native.disconnect()


async def test_renames_go_both_ways(streams: dict[str, Any]) -> None:
    native = await ChatClient(streams["red"], chat_token=await native_register("nat")).connect()
    owncast = await _socket(await _register(name="oc"))
    try:
        await owncast.send({"type": "NAME_CHANGE", "newName": "oc-renamed"})
        change = await native.receive("NAME_CHANGE")
        assert (change["oldName"], change["newName"]) == ("oc", "oc-renamed")
        await native.send({"type": "NAME_CHANGE", "newName": "nat-renamed"})
        while (seen := await owncast.receive("NAME_CHANGE"))["newName"] != "nat-renamed":
            assert seen["newName"] == "oc-renamed"  # its own, first
        assert seen["oldName"] == "nat" and isinstance(seen["user"]["id"], str)
        assert seen["id"]  # every Owncast event carries an id
    finally:
        await owncast.disconnect()
        await native.disconnect()


async def test_a_moderators_hide_reaches_owncast_clients_with_string_ids(
    streams: dict[str, Any],
) -> None:
    moderator = await sync_to_async(UserFactory)(role=Role.ADMIN)
    mod = await ChatClient(streams["red"], user=moderator).connect()
    owncast = await _socket(await _register(name="watcher"))
    try:
        await owncast.send({"type": "CHAT", "body": "to be hidden"})
        message = await owncast.receive("CHAT")
        await mod.send({"type": "HIDE", "ids": [int(message["id"])]})
        update = await owncast.receive("VISIBILITY-UPDATE")
        assert update["ids"] == [message["id"]] and update["visible"] is False
    finally:
        await owncast.disconnect()
        await mod.disconnect()


async def test_without_a_valid_token_the_socket_asks_for_registration(
    streams: dict[str, Any],
) -> None:
    for query in ("", "?accessToken=", "?accessToken=not-a-token"):
        socket = await OwncastSocket(f"/owncast/red/ws{query}").connect()
        assert await socket.close_code() == CLOSE_UNAUTHENTICATED
        assert socket.pending[0] == {"type": chat_events.ERROR_NEEDS_REGISTRATION}


async def test_a_banned_user_is_refused_as_disabled(streams: dict[str, Any]) -> None:
    user = await _register(name="troll")
    troll = await sync_to_async(ChatIdentity.objects.get)(pk=int(user["id"]))
    await sync_to_async(chat_services.identity_ban)(
        stream=streams["red"], identity=troll, kind="ban", actor=None
    )
    socket = await OwncastSocket(f"/owncast/red/ws?accessToken={user['accessToken']}").connect()
    assert await socket.close_code() == CLOSE_FORBIDDEN
    assert socket.pending[0]["type"] == chat_events.ERROR_USER_DISABLED
    # Not banned on the other stream.
    other = await _socket(user, "/owncast/blue/ws")
    assert (await other.receive("CONNECTED_USER_INFO"))["user"]["id"] == user["id"]
    await other.disconnect()


async def test_an_unknown_or_private_stream_is_closed_with_4404(
    streams: dict[str, Any], settings: Any
) -> None:
    user = await _register()
    settings.OWNCAST_DEFAULT_STREAM = ""
    for path in ("/owncast/nope/ws", "/ws"):
        socket = await OwncastSocket(f"{path}?accessToken={user['accessToken']}").connect()
        assert await socket.close_code() == CLOSE_NOT_FOUND


async def test_the_root_socket_is_the_default_streams_chat(
    streams: dict[str, Any], settings: Any
) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "blue"
    native = await ChatClient(streams["blue"], chat_token=await native_register("b")).connect()
    owncast = await _socket(await _register("", name="rooted"), "/ws")
    try:
        await owncast.send({"type": "CHAT", "body": "at the root"})
        assert (await native.receive("CHAT"))["body"] == "at the root"
        count = await sync_to_async(ChatMessage.objects.filter(stream=streams["blue"]).count)()
        assert count == 1
    finally:
        await owncast.disconnect()
        await native.disconnect()


async def test_two_streams_keep_their_chats_apart(streams: dict[str, Any]) -> None:
    red = await _socket(await _register(name="r"))
    blue = await _socket(await _register("/owncast/blue", name="b"), "/owncast/blue/ws")
    try:
        await red.send({"type": "CHAT", "body": "red only"})
        assert (await red.receive("CHAT"))["body"] == "red only"
        await blue.send({"type": "CHAT", "body": "blue only"})
        assert (await blue.receive("CHAT"))["body"] == "blue only"
        # Blue's client never got red's message: its next CHAT is its own.
        assert blue.ws and all(event.get("body") != "red only" for event in blue.pending)
        history = await sync_to_async(call)("GET", "/owncast/blue/api/chat?accessToken=x")
        assert history.status_code == 401
    finally:
        await red.disconnect()
        await blue.disconnect()


async def test_ping_is_answered_and_several_events_in_one_frame_are_taken(
    streams: dict[str, Any],
) -> None:
    owncast = await _socket(await _register(name="batch"))
    try:
        await owncast.send({"type": "PING"})
        assert await owncast.receive("PONG") == {"type": "PONG"}
        lines = [json.dumps({"type": "CHAT", "body": f"line {n}"}) for n in range(2)]
        await owncast.send("\n".join(lines))
        bodies = [(await owncast.receive("CHAT"))["body"] for _ in range(2)]
        assert bodies == ["line 0", "line 1"]
        await owncast.send("[" * 1500 + "]" * 1500)
        error = await owncast.receive("ERROR")
        assert error["error"]["code"] == "request.malformed"
    finally:
        await owncast.disconnect()


async def test_the_welcome_message_and_a_message_to_one_client(streams: dict[str, Any]) -> None:
    await sync_to_async(StreamOwncastSettings.objects.create)(
        stream=streams["red"], welcome_message="Be nice"
    )
    first = await _socket(await _register(name="first"))
    second = await _socket(await _register(name="second"))
    try:
        client_id = (await first.receive("CONNECTED_USER_INFO"))["clientId"]
        welcome = await first.receive("SYSTEM")
        assert welcome["body"] == "Be nice"
        assert (await second.receive("SYSTEM"))["body"] == "Be nice"
        raw = (await sync_to_async(issue_token)(["CAN_SEND_SYSTEM_MESSAGES"])).raw
        path = f"/owncast/red/api/integrations/chat/system/client/{client_id}"
        response = await sync_to_async(call)("POST", path, raw, {"body": "just you"})
        assert response.status_code == 200
        assert (await first.receive("SYSTEM"))["body"] == "just you"
        # The other client gets the next broadcast, not the private message.
        await second.send({"type": "CHAT", "body": "after"})
        while (event := await second.receive())["type"] != "CHAT":
            assert event.get("body") != "just you"
        assert event["body"] == "after"
        stored = await sync_to_async(ChatMessage.objects.count)()
        assert stored == 1  # the private message is not stored
    finally:
        await first.disconnect()
        await second.disconnect()


async def test_a_chat_action_reaches_owncast_clients(streams: dict[str, Any]) -> None:
    owncast = await _socket(await _register(name="player"))
    try:
        raw = (await sync_to_async(issue_token)(["CAN_SEND_SYSTEM_MESSAGES"])).raw
        body = {"body": "rolled a 15", "author": "JohnSmith"}
        path = "/owncast/red/api/integrations/chat/action"
        assert (await sync_to_async(call)("POST", path, raw, body)).status_code == 200
        action = await owncast.receive("CHAT_ACTION")
        assert action["body"] == "JohnSmith rolled a 15" and action["id"]
    finally:
        await owncast.disconnect()


async def test_the_clients_list_shows_connected_sockets(streams: dict[str, Any]) -> None:
    user = await _register(name="listed")
    owncast = await _socket(user)
    try:
        client_id = (await owncast.receive("CONNECTED_USER_INFO"))["clientId"]
        raw = (await sync_to_async(issue_token)(["HAS_ADMIN_ACCESS"])).raw
        path = "/owncast/red/api/integrations/clients"
        clients = (await sync_to_async(call)("GET", path, raw)).json()
        assert [(c["clientID"], c["user"]["id"]) for c in clients] == [(client_id, user["id"])]
        assert clients[0]["ipAddress"] == "127.0.0.1"
    finally:
        await owncast.disconnect()
