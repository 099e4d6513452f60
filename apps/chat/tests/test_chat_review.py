"""The gaps a review of the chat found: each test fails without its fix.

On the real ASGI application and channel layer, like test_chat_socket.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat import conf, selectors, services
from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, ChatModerator, ChatSettings
from apps.chat.ratelimit import Window
from apps.chat.tests.factories import LiveStreamFactory
from apps.chat.tests.helpers import ChatClient, register
from apps.streams.models import LiveSession, LiveStream, LiveVisibility
from castcore.ws import CLOSE_FORBIDDEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TOO_BIG = 2**70  # more than a BIGINT holds


async def _stream(**fields: Any) -> Any:
    return await sync_to_async(LiveStreamFactory)(**fields)


async def _count(**filters: Any) -> int:
    return await sync_to_async(ChatMessage.objects.filter(**filters).count)()


async def _identity(pk: int) -> ChatIdentity:
    return await sync_to_async(ChatIdentity.objects.get)(pk=pk)


async def _moderator_of(stream: Any) -> Any:
    user = await sync_to_async(UserFactory)(role=Role.VIEWER)
    await sync_to_async(ChatModerator.objects.create)(stream=stream, user=user)
    return user


# --- 1. visibility on every send, and a kick when it changes


async def test_a_send_after_the_stream_turned_private_is_refused_and_closes() -> None:
    stream = await _stream()
    viewer = await ChatClient(stream, chat_token=await register("early")).connect()
    try:
        await viewer.say("while public")
        await viewer.receive("CHAT")
        # Turned private without the signal (as another web process sees it once its
        # cached rules are a second old): the send itself looks again.
        await sync_to_async(LiveStream.objects.filter(pk=stream.pk).update)(
            visibility=LiveVisibility.PRIVATE
        )
        selectors.forget_send_rules()
        await viewer.say("after")
        assert (await viewer.receive("ERROR"))["error"]["code"] == "chat.forbidden"
        assert await viewer.close_code() == CLOSE_FORBIDDEN
        assert await _count(stream=stream) == 1
    finally:
        await viewer.disconnect()


async def test_turning_a_stream_private_closes_the_sockets_that_may_no_longer_read() -> None:
    owner = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    stream = await _stream(owner=owner)
    moderator = await _moderator_of(stream)
    guest = await ChatClient(stream, chat_token=await register("guest")).connect()
    reader = await ChatClient(stream).connect()
    by_owner = await ChatClient(stream, user=owner).connect()
    by_moderator = await ChatClient(stream, user=moderator).connect()
    try:
        stream.visibility = LiveVisibility.PRIVATE
        await sync_to_async(stream.save)()
        for client in (guest, reader):
            assert (await client.receive("ERROR"))["error"]["code"] == "chat.forbidden"
            assert await client.close_code() == CLOSE_FORBIDDEN
        # Those who may still read it stay, and go on chatting.
        await by_owner.say("still here")
        assert (await by_moderator.receive("CHAT"))["body"] == "still here"
        assert (await by_owner.receive("CHAT"))["body"] == "still here"  # its own
        await by_moderator.say("me too")
        assert (await by_owner.receive("CHAT"))["body"] == "me too"
    finally:
        for client in (guest, reader, by_owner, by_moderator):
            await client.disconnect()


# --- 2. a reconnect learns of hides, shows, and of having missed too much


async def test_a_reconnect_learns_what_was_hidden_and_shown_while_away() -> None:
    stream = await _stream()
    operator = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    writer = await ChatClient(stream, chat_token=await register("writer")).connect()
    try:
        for body in ("m0", "m1", "m2"):
            await writer.say(body)
        ids = [(await writer.receive("CHAT"))["id"] for _ in range(3)]
        reader = await ChatClient(stream).connect()
        assert [m["id"] for m in reader.backlog] == ids
        await reader.disconnect()
        # While the reader is away, m1 is hidden.
        await sync_to_async(services.messages_set_visibility)(
            stream=stream, message_ids=[ids[1]], visible=False, actor=operator
        )
        back = ChatClient(stream, since=ids[2])
        await back.ws.connect()
        frame = await back.receive("BACKLOG")
        assert frame["hidden"] == [ids[1]] and frame["restored"] == []
        assert frame["truncated"] is False
        assert ids[1] not in [m["id"] for m in frame["messages"]]
        await back.disconnect()
        # Shown again while away: restored, and the message itself to put back.
        await sync_to_async(services.messages_set_visibility)(
            stream=stream, message_ids=[ids[1]], visible=True, actor=operator
        )
        again = ChatClient(stream, since=ids[2])
        await again.ws.connect()
        frame = await again.receive("BACKLOG")
        assert frame["hidden"] == [] and frame["restored"] == [ids[1]]
        assert ids[1] in [m["id"] for m in frame["messages"]]
        await again.disconnect()
    finally:
        await writer.disconnect()


async def test_a_reconnect_that_missed_more_than_the_cap_is_told_truncated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selectors, "RECONNECT_CAP", 3)
    stream = await _stream()
    writer = await ChatClient(stream, chat_token=await register("writer")).connect()
    try:
        await writer.say("seen")
        seen = (await writer.receive("CHAT"))["id"]
        # Spaced past the overlap window would need sleeping; the cap counts the overlap too.
        for n in range(4):
            await writer.say(f"missed {n}")
            await writer.receive("CHAT")
        back = ChatClient(stream, since=seen)
        await back.ws.connect()
        frame = await back.receive("BACKLOG")
        assert frame["truncated"] is True
        # The recent backlog, to start the list over with: the newest message last.
        assert frame["messages"][-1]["body"] == "missed 3"
        await back.disconnect()
    finally:
        await writer.disconnect()


# --- 3. renames: bans and a rate limit


async def test_renames_are_rate_limited_per_identity_and_per_address() -> None:
    stream = await _stream()
    address = "192.0.2.31"
    first = await ChatClient(stream, chat_token=await register("first"), address=address).connect()
    second = await ChatClient(
        stream, chat_token=await register("second"), address=address
    ).connect()
    try:
        limit = conf.RENAME_RATE.count
        for n in range(limit):
            await first.send({"type": "NAME_CHANGE", "newName": f"name {n}"})
            assert (await first.receive("NAME_CHANGE"))["newName"] == f"name {n}"
        await first.send({"type": "NAME_CHANGE", "newName": "one more"})
        error = (await first.receive("ERROR"))["error"]
        assert error["code"] == "chat.rate_limited" and error["params"]["retry_after"] >= 1
        # Another identity from the same address is over the address's limit too.
        await second.send({"type": "NAME_CHANGE", "newName": "second's new"})
        assert (await second.receive("ERROR"))["error"]["code"] == "chat.rate_limited"
        assert (await _identity(second.info["user"]["id"])).display_name == "second"
        assert await second.nothing_more()
    finally:
        await first.disconnect()
        await second.disconnect()


# --- 4. an address ban spares moderators on that address; 8. other addresses, by setting


async def test_an_address_ban_spares_moderators_and_other_addresses() -> None:
    stream = await _stream()
    operator = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    moderator = await _moderator_of(stream)
    shared = "192.0.2.40"
    troll = await ChatClient(stream, chat_token=await register("troll"), address=shared).connect()
    await sync_to_async(services.identity_ban)(
        stream=stream,
        identity=await _identity(troll.info["user"]["id"]),
        kind="ban",
        actor=operator,
    )
    assert await troll.close_code() == CLOSE_FORBIDDEN
    await troll.disconnect()
    # A fresh identity from that address is refused...
    fresh = ChatClient(stream, chat_token=await register("fresh"), address=shared)
    assert (await fresh.ws.connect())[0]
    assert await fresh.close_code() == CLOSE_FORBIDDEN
    await fresh.disconnect()
    # ...the stream's moderator on it is not, and may send...
    mod = await ChatClient(stream, user=moderator, address=shared).connect()
    # ...and neither is someone at another address.
    other = await ChatClient(
        stream, chat_token=await register("elsewhere"), address="198.51.100.9"
    ).connect()
    try:
        assert mod.info["moderator"] is True
        await mod.say("moderating")
        assert (await other.receive("CHAT"))["body"] == "moderating"
        assert (await mod.receive("CHAT"))["body"] == "moderating"  # its own
        await other.say("hello")
        assert (await mod.receive("CHAT"))["body"] == "hello"
    finally:
        await mod.disconnect()
        await other.disconnect()


async def test_without_ban_by_address_another_identity_on_that_address_chats() -> None:
    stream = await _stream()
    await sync_to_async(ChatSettings.objects.create)(stream=stream, ban_by_address=False)
    operator = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    shared = "192.0.2.41"
    troll = await ChatClient(stream, chat_token=await register("troll"), address=shared).connect()
    ban = await sync_to_async(services.identity_ban)(
        stream=stream,
        identity=await _identity(troll.info["user"]["id"]),
        kind="ban",
        actor=operator,
    )
    assert ban.address is None
    assert await troll.close_code() == CLOSE_FORBIDDEN
    await troll.disconnect()
    housemate = await ChatClient(
        stream, chat_token=await register("housemate"), address=shared
    ).connect()
    try:
        await housemate.say("not me")
        assert (await housemate.receive("CHAT"))["body"] == "not me"
    finally:
        await housemate.disconnect()


# --- 5. a granted moderator reads (and moderates) a private stream's chat


async def test_a_granted_moderator_moderates_a_private_stream() -> None:
    owner = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    stream = await _stream(visibility=LiveVisibility.PRIVATE, owner=owner)
    moderator = await _moderator_of(stream)
    by_owner = await ChatClient(stream, user=owner).connect()
    mod = await ChatClient(stream, user=moderator).connect()
    try:
        assert mod.info["moderator"] is True
        await by_owner.say("hide me")
        message = await mod.receive("CHAT")
        await mod.send({"type": "HIDE", "ids": [message["id"]]})
        assert (await by_owner.receive("VISIBILITY-UPDATE"))["ids"] == [message["id"]]
    finally:
        await by_owner.disconnect()
        await mod.disconnect()


# --- 7. ids out of range


async def test_ids_beyond_a_bigint_are_refused_as_invalid_not_a_server_error() -> None:
    stream = await _stream()
    moderator = await _moderator_of(stream)
    mod = await ChatClient(stream, user=moderator).connect()
    try:
        await mod.send({"type": "HIDE", "ids": [TOO_BIG]})
        error = (await mod.receive("ERROR"))["error"]
        assert error["code"] == "validation.invalid" and error["params"]["field"] == "ids"
        for kind in ("BAN", "TIMEOUT"):
            await mod.send({"type": kind, "userId": TOO_BIG})
            error = (await mod.receive("ERROR"))["error"]
            assert error["code"] == "validation.invalid" and error["params"]["field"] == "userId"
    finally:
        await mod.disconnect()


# --- 8. the tests the review listed


async def _outcome(client: ChatClient) -> dict[str, Any]:
    """What became of the client's last message: its own CHAT back, or an ERROR."""
    while True:
        frame = await client.receive()
        if frame["type"] == "ERROR":
            return frame
        if frame["type"] == "CHAT" and frame["user"]["id"] == client.info["user"]["id"]:
            return frame


async def test_per_address_limits_cut_several_identities_from_one_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Four in an hour: the second send of the third identity is over it.
    monkeypatch.setattr(conf, "ADDRESS_BURST", Window(4, 3600))
    stream = await _stream()
    address = "192.0.2.50"
    clients = [
        await ChatClient(stream, chat_token=await register(f"nat {n}"), address=address).connect()
        for n in range(3)
    ]
    elsewhere = await ChatClient(
        stream, chat_token=await register("elsewhere"), address="198.51.100.50"
    ).connect()
    try:
        outcomes = []
        for client in clients:
            for n in range(2):  # each under its own limit (5 in 3 s)
                await client.say(f"from the NAT {n}")
                frame = await _outcome(client)
                outcomes.append(frame["type"])
                if frame["type"] == "ERROR":
                    assert frame["error"]["code"] == "chat.rate_limited"
        assert outcomes.count("CHAT") == 4 and outcomes.count("ERROR") == 2
        assert await _count(stream=stream) == 4
        # Another address is not counted with them.
        await elsewhere.say("fine")
        assert (await _outcome(elsewhere))["type"] == "CHAT"
    finally:
        for client in (*clients, elsewhere):
            await client.disconnect()


async def test_closed_while_offline_lets_messages_through_while_a_session_is_open() -> None:
    stream = await _stream()
    await sync_to_async(ChatSettings.objects.create)(stream=stream, closed_when_offline=True)
    viewer = await ChatClient(stream, chat_token=await register("viewer")).connect()
    try:
        await viewer.say("offline")
        assert (await viewer.receive("ERROR"))["error"]["code"] == "chat.closed"
        session = await sync_to_async(LiveSession.objects.create)(stream=stream, protocol="rtmp")
        selectors.forget_send_rules()  # what the cache's second does in production
        await viewer.say("live now")
        message = await viewer.receive("CHAT")
        assert message["body"] == "live now"
        stored = await sync_to_async(ChatMessage.objects.get)(pk=message["id"])
        assert stored.session_id == session.pk
    finally:
        await viewer.disconnect()


async def test_a_timeout_frame_closes_the_socket_until_it_expires() -> None:
    stream = await _stream()
    moderator = await _moderator_of(stream)
    token = await register("hothead")
    hothead = await ChatClient(stream, chat_token=token, address="192.0.2.60").connect()
    mod = await ChatClient(stream, user=moderator).connect()
    try:
        target = hothead.info["user"]["id"]
        await mod.send({"type": "TIMEOUT", "userId": target, "seconds": 120, "reason": "calm"})
        assert (await hothead.receive("ERROR"))["error"]["code"] == "chat.timed_out"
        assert await hothead.close_code() == CLOSE_FORBIDDEN
        ban = await sync_to_async(ChatBan.objects.get)(identity_id=target)
        assert ban.kind == "timeout" and ban.reason == "calm"
        assert ban.until is not None
        assert timedelta(seconds=110) < ban.until - timezone.now() <= timedelta(seconds=120)
        entry = await sync_to_async(AuditEntry.objects.get)(action="chat.timeout")
        assert entry.actor_id == moderator.pk and entry.changes["identity_id"] == target
        # Refused while it lasts...
        during = ChatClient(stream, chat_token=token, address="192.0.2.60")
        assert (await during.ws.connect())[0]
        assert await during.close_code() == CLOSE_FORBIDDEN
        await during.disconnect()
        # ...and welcome once it is over.
        await sync_to_async(ChatBan.objects.filter(pk=ban.pk).update)(
            until=timezone.now() - timedelta(seconds=1)
        )
        after = await ChatClient(stream, chat_token=token, address="192.0.2.60").connect()
        await after.say("sorry")
        assert (await after.receive("CHAT"))["body"] == "sorry"
        await after.disconnect()
    finally:
        await hothead.disconnect()
        await mod.disconnect()
