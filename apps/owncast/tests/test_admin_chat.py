"""The Owncast admin's chat: clients connected on the real chat socket, every message
(hidden ones too), visibility changes reaching connected sockets, users disabled and
enabled (a ban on the stream with their messages hidden), the disabled list at both paths."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat import services
from apps.chat.models import ChatBan, ChatIdentity, ChatMessage
from apps.chat.tests.helpers import ChatClient, register
from apps.owncast.tests.admin_client import Admin, basic

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _admin(streams: dict[str, Any], slug: str = "red") -> Admin:
    return Admin(slug, basic(streams[f"{slug}_key"]))


async def _get(admin: Admin, path: str) -> Any:
    response = await sync_to_async(admin.get)(path)
    assert response.status_code == 200, response.content
    return response.json()


@sync_to_async
def _visible(message_id: int) -> bool:
    return bool(ChatMessage.objects.get(pk=message_id).visible)


async def _post(admin: Admin, path: str, payload: Any) -> Any:
    return await sync_to_async(admin.post)(path, payload)


async def test_clients_and_messages_of_the_stream(streams: dict[str, Any]) -> None:
    red = _admin(streams)
    alice = await ChatClient(streams["red"], chat_token=await register("alice")).connect()
    bob = await ChatClient(streams["blue"], chat_token=await register("bob")).connect()
    try:
        await alice.say("hello red")
        sent = await alice.receive("CHAT")
        await bob.say("hello blue")
        await bob.receive("CHAT")
        clients = await _get(red, "chat/clients")
        assert [c["user"]["displayName"] for c in clients] == ["alice"]
        assert clients[0]["messageCount"] == 1 and clients[0]["ipAddress"] == "127.0.0.1"
        assert clients[0]["connectedAt"] and clients[0]["clientID"]
        messages = await _get(red, "chat/messages")
        assert [(m["user"]["displayName"], m["body"]) for m in messages] == [("alice", "hello red")]
        assert messages[0]["visible"] is True and messages[0]["hiddenAt"] is None
        assert messages[0]["id"] == str(sent["id"]) and messages[0]["type"] == "CHAT"
    finally:
        await alice.disconnect()
        await bob.disconnect()


@pytest.mark.parametrize("path", ["chat/updatemessagevisibility", "chat/messagevisibility"])
async def test_hiding_reaches_connected_sockets_and_stays_listed(
    streams: dict[str, Any], path: str
) -> None:
    red = _admin(streams)
    alice = await ChatClient(streams["red"], chat_token=await register("alice")).connect()
    try:
        await alice.say("to hide")
        sent = await alice.receive("CHAT")
        response = await _post(red, path, {"idArray": [str(sent["id"])], "visible": False})
        assert response.json() == {"success": True, "message": "changed"}
        update = await alice.receive("VISIBILITY-UPDATE")
        assert update["ids"] == [sent["id"]] and update["visible"] is False
        listed = await _get(red, "chat/messages")
        assert listed[0]["visible"] is False and listed[0]["hiddenAt"]
        # Another stream's message ids change nothing here.
        other = await _post(
            _admin(streams, "blue"), path, {"idArray": [str(sent["id"])], "visible": True}
        )
        assert other.json()["success"] is True
        assert not await _visible(sent["id"])
    finally:
        await alice.disconnect()


@pytest.mark.parametrize(
    "payload", [{"idArray": ["x"], "visible": False}, {"idArray": ["1"]}, {"visible": True}, []]
)
async def test_a_bad_visibility_request_is_owncasts_failure(
    streams: dict[str, Any], payload: Any
) -> None:
    response = await _post(_admin(streams), "chat/updatemessagevisibility", payload)
    assert response.status_code == 400 and response.json()["success"] is False


async def test_a_disabled_user_is_banned_hidden_and_listed_until_enabled(
    streams: dict[str, Any],
) -> None:
    red = _admin(streams)
    alice = await ChatClient(streams["red"], chat_token=await register("alice")).connect()
    await alice.say("before")
    sent = await alice.receive("CHAT")
    user_id = str(alice.info["user"]["id"])
    response = await _post(red, "chat/users/setenabled", {"userId": user_id, "enabled": False})
    assert response.json()["success"] is True
    # Its socket is closed (banned), its messages hidden for everyone.
    assert await alice.close_code() >= 4000
    for path in ("chat/users/disabled", "users/disabled"):
        disabled = await _get(red, path)
        assert [u["id"] for u in disabled] == [user_id] and disabled[0]["disabledAt"]
    assert await _get(_admin(streams, "blue"), "chat/users/disabled") == []
    message = await sync_to_async(ChatMessage.objects.get)(pk=sent["id"])
    assert message.visible is False
    identity = await sync_to_async(ChatIdentity.objects.get)(pk=int(user_id))
    with pytest.raises(services.ChatError):
        await sync_to_async(services.message_send)(
            stream=streams["red"], identity=identity, body="while disabled", address=None
        )
    response = await _post(red, "chat/users/setenabled", {"userId": user_id, "enabled": True})
    assert response.json()["success"] is True
    assert await _get(red, "chat/users/disabled") == []
    assert not await sync_to_async(ChatBan.objects.filter(ChatBan.active_q()).exists)()
    await sync_to_async(services.message_send)(
        stream=streams["red"], identity=identity, body="back", address=None
    )


@pytest.mark.parametrize(
    "payload", [{"userId": "999999", "enabled": False}, {"userId": "x", "enabled": False},
                {"userId": "1"}],
)  # fmt: skip
async def test_an_unknown_user_or_bad_request_is_refused(
    streams: dict[str, Any], payload: Any
) -> None:
    response = await _post(_admin(streams), "chat/users/setenabled", payload)
    assert response.status_code == 400 and response.json()["success"] is False
