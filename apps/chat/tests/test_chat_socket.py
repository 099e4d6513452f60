"""WS /api/v1/ws/chat/<stream> on the real ASGI application and channel layer (Redis in CI)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat import conf, services
from apps.chat.models import ChatMessage, ChatModerator, ChatSettings
from apps.chat.tests.factories import LiveStreamFactory
from apps.chat.tests.helpers import ChatClient, register
from apps.streams.models import LiveVisibility
from castcore.ws import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _stream(**fields: Any) -> Any:
    return await sync_to_async(LiveStreamFactory)(**fields)


async def _count(**filters: Any) -> int:
    return await sync_to_async(ChatMessage.objects.filter(**filters).count)()


async def test_two_clients_see_each_others_messages_in_order() -> None:
    stream = await _stream()
    alice = await ChatClient(stream, chat_token=await register("alice")).connect()
    bob = await ChatClient(stream, chat_token=await register("bob")).connect()
    try:
        for n in range(5):
            await alice.say(f"a{n}")
            await bob.say(f"b{n}")
        seen, ids = {}, {}
        for client in (alice, bob):
            frames = [await client.receive("CHAT") for _ in range(10)]
            seen[client] = [(f["user"]["displayName"], f["body"]) for f in frames]
            ids[client] = [f["id"] for f in frames]
        # Both in the same order (the order the stream's group got them)...
        assert seen[alice] == seen[bob] and ids[alice] == ids[bob]
        # ...and each sender's own messages in the order they were sent.
        assert [body for name, body in seen[alice] if name == "alice"] == [
            f"a{n}" for n in range(5)
        ]
        assert [body for name, body in seen[alice] if name == "bob"] == [f"b{n}" for n in range(5)]
        assert await _count(stream=stream) == 10
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_a_hidden_message_is_removed_from_a_client_connected_before() -> None:
    stream = await _stream()
    moderator: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    await sync_to_async(ChatModerator.objects.create)(stream=stream, user=moderator)
    writer = await ChatClient(stream, chat_token=await register("writer")).connect()
    third = await ChatClient(stream, chat_token=await register("third")).connect()
    mod = await ChatClient(stream, user=moderator).connect()
    try:
        assert mod.info["moderator"] is True
        await writer.say("rude words")
        message = await third.receive("CHAT")
        await mod.receive("CHAT")
        await mod.send({"type": "HIDE", "ids": [message["id"]]})
        update = await third.receive("VISIBILITY-UPDATE")
        assert update["ids"] == [message["id"]] and update["visible"] is False
        # A client connecting now does not get it in its backlog; a moderator does, marked.
        late = await ChatClient(stream, chat_token=await register("late")).connect()
        assert [m["id"] for m in late.backlog] == []
        late_mod = await ChatClient(stream, user=moderator).connect()
        assert [(m["id"], m["visible"]) for m in late_mod.backlog] == [(message["id"], False)]
        await late.disconnect()
        await late_mod.disconnect()
        entry = await sync_to_async(AuditEntry.objects.get)(action="chat.message_hide")
        assert entry.actor_id == moderator.pk and entry.changes["message_ids"] == [message["id"]]
        # Shown again: the third client gets the update and the message to put back.
        await mod.send({"type": "SHOW", "ids": [message["id"]]})
        assert (await third.receive("VISIBILITY-UPDATE"))["visible"] is True
        assert (await third.receive("CHAT"))["id"] == message["id"]
    finally:
        for client in (writer, third, mod):
            await client.disconnect()


async def test_a_viewer_who_does_not_moderate_cannot_hide() -> None:
    stream = await _stream()
    writer = await ChatClient(stream, chat_token=await register("writer")).connect()
    try:
        await writer.say("mine")
        message = await writer.receive("CHAT")
        await writer.send({"type": "HIDE", "ids": [message["id"]]})
        error = await writer.receive("ERROR")
        assert error["error"]["code"] == "chat.not_moderator"
        assert await sync_to_async(ChatMessage.objects.filter(visible=False).count)() == 0
    finally:
        await writer.disconnect()


async def test_a_banned_identity_that_renames_itself_is_still_refused() -> None:
    stream = await _stream()
    operator = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    token = await register("troll")
    troll = await ChatClient(stream, chat_token=token).connect()
    watcher = await ChatClient(
        stream, chat_token=await register("watcher"), address="192.0.2.7"
    ).connect()
    try:
        identity_id = troll.info["user"]["id"]
        ban = await sync_to_async(services.identity_ban)(
            stream=stream, identity=await _identity(identity_id), kind="ban", actor=operator
        )
        # The open socket is told and closed.
        assert (await troll.receive("ERROR"))["error"]["code"] == "chat.banned"
        assert await troll.close_code() == CLOSE_FORBIDDEN
        assert (await watcher.receive("CHAT_ACTION"))["body"] == "troll was banned."
        assert ban.address == "127.0.0.1"
    finally:
        await troll.disconnect()
        await watcher.disconnect()
    # The same token, under a new name, is refused on connect...
    identity = await _identity(identity_id)
    identity.display_name = "nice person"
    await sync_to_async(identity.save)()
    again = ChatClient(stream, chat_token=token)
    connected, _ = await again.ws.connect()
    assert connected
    assert await again.close_code() == CLOSE_FORBIDDEN
    await again.disconnect()
    # ...and so is a fresh identity from the same address (the stream bans by address).
    fresh = ChatClient(stream, chat_token=await register("new me"))
    assert (await fresh.ws.connect())[0]
    assert await fresh.close_code() == CLOSE_FORBIDDEN
    await fresh.disconnect()
    assert await _count(stream=stream) == 0
    assert await sync_to_async(AuditEntry.objects.filter(action="chat.ban").count)() == 1


async def test_a_rename_on_the_socket_of_a_banned_identity_does_not_lift_it() -> None:
    """Banned while its socket stays open (another web process, say): each send re-checks."""
    stream = await _stream()
    operator = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    troll = await ChatClient(stream, chat_token=await register("troll2")).connect()
    try:
        identity = await _identity(troll.info["user"]["id"])
        # The ban row only, without the kick: as if its socket had missed the event.
        await sync_to_async(services.ChatBan.objects.create)(
            stream=stream, identity=identity, kind="ban", created_by=operator
        )
        # A rename is refused too (and not broadcast): a ban is not shed with a name.
        await troll.send({"type": "NAME_CHANGE", "newName": "innocent"})
        assert (await troll.receive("ERROR"))["error"]["code"] == "chat.banned"
        assert (await _identity(identity.pk)).display_name == "troll2"
        await troll.say("hello again")
        assert (await troll.receive("ERROR"))["error"]["code"] == "chat.banned"
        assert await _count(stream=stream) == 0
    finally:
        await troll.disconnect()


async def _identity(pk: int) -> Any:
    from apps.chat.models import ChatIdentity

    return await sync_to_async(ChatIdentity.objects.get)(pk=pk)


async def test_a_flood_is_cut_by_the_limit_with_an_error_and_nothing_stored() -> None:
    stream = await _stream()
    flooder = await ChatClient(stream, chat_token=await register("flooder")).connect()
    other = await ChatClient(stream, chat_token=await register("other")).connect()
    try:
        for n in range(20):
            await flooder.say(f"spam {n}")
        errors = 0
        chats = 0
        while errors + chats < 20:
            frame = await flooder.receive()
            if frame["type"] == "ERROR":
                assert frame["error"]["code"] == "chat.rate_limited"
                assert frame["error"]["params"]["retry_after"] >= 1
                errors += 1
            elif frame["type"] == "CHAT":
                chats += 1
        burst = conf.IDENTITY_BURST.count
        # A fixed window may begin mid-flood: at most two windows' worth get through.
        assert burst <= chats <= 2 * burst and errors == 20 - chats
        assert await _count(stream=stream) == chats
        received = [await other.receive("CHAT") for _ in range(chats)]
        assert len(received) == chats
        assert await other.nothing_more()
    finally:
        await flooder.disconnect()
        await other.disconnect()


XSS_CORPUS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    "[click](javascript:alert(1))",
    "javascript:alert(1)",
    'https://example.com/"onmouseover="alert(1)',
    "**<b onclick=alert(1)>bold</b>**",
    "<a href='javascript:alert(1)'>x</a>",
    "<<script>script>alert(1)<</script>/script>",
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "_<em onmouseover=alert(1)>x</em>_",
    "<p>unclosed <b>broken <i>markup",
    "admin\u202egnp.exe",  # right-to-left override
    "hi\u200b\u200c\u2060there",  # zero-width characters
    "\u2066isolated\u2069 \ufeffbom",
]


async def test_the_xss_corpus_comes_out_inert() -> None:
    stream = await _stream()
    sender = await ChatClient(stream, chat_token=await register("tester")).connect()
    reader = await ChatClient(stream, chat_token=await register("reader")).connect()
    try:
        for n, body in enumerate(XSS_CORPUS):
            if n and n % conf.IDENTITY_BURST.count == 0:
                await sync_to_async(_reset_rate_limits)()
            await sender.say(body)
            frame = await reader.receive("CHAT")
            assert_inert(frame["body"])
        await sender.say("x" * 10_000)
        error = await sender.receive("ERROR")
        assert error["error"]["code"] == "chat.too_long"
        assert error["error"]["params"]["max_length"] == conf.MAX_MESSAGE_LENGTH
    finally:
        await sender.disconnect()
        await reader.disconnect()
    stored: list[str] = await sync_to_async(_bodies)()
    assert len(stored) == len(XSS_CORPUS)
    for body in stored:
        assert not any(char in body for char in "\u202e\u200b\u200c\u2060\u2066\u2069\ufeff")


def _bodies() -> list[str]:
    return list(ChatMessage.objects.values_list("body", flat=True))


def _reset_rate_limits() -> None:
    from apps.chat import ratelimit

    ratelimit.forget()


def assert_inert(html: str) -> None:
    """What a browser would build from `html`: only the allowed tags, no handlers, safe links."""
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, attrs))

    Collect().feed(html)
    for tag, attrs in tags:
        assert tag in {"a", "em", "strong", "del"}, html
        for name, value in attrs:
            assert tag == "a" and name in {"href", "rel"}, html
            if name == "href":
                assert (value or "").startswith(("http://", "https://")), html


async def test_backlog_on_connect_and_reconnect_since_the_last_message() -> None:
    stream = await _stream()
    writer = await ChatClient(stream, chat_token=await register("writer")).connect()
    try:
        for n in range(3):
            await writer.say(f"m{n}")
        ids = [(await writer.receive("CHAT"))["id"] for _ in range(3)]
        reader = await ChatClient(stream).connect()  # no identity: read-only
        assert [m["body"] for m in reader.backlog] == ["m0", "m1", "m2"]
        await reader.say("can I?")
        assert (await reader.receive("ERROR"))["error"]["code"] == "chat.needs_registration"
        await reader.disconnect()
        await writer.say("m3")
        await writer.say("m4")
        await writer.receive("CHAT")
        await writer.receive("CHAT")
        back = await ChatClient(stream, since=ids[2]).connect()
        # What it missed, and the last seconds before its last message again (stored in
        # parallel, two messages can be published out of id order; the page keeps by id).
        assert [m["body"] for m in back.backlog][-2:] == ["m3", "m4"]
        assert {m["body"] for m in back.backlog} <= {"m0", "m1", "m2", "m3", "m4"}
        await back.disconnect()
    finally:
        await writer.disconnect()


async def test_names_are_unique_among_connected_users_and_forbidden_names_refused() -> None:
    stream = await _stream()
    first = await ChatClient(stream, chat_token=await register("sam")).connect()
    second = await ChatClient(stream, chat_token=await register("Sam")).connect()
    try:
        assert second.info["user"]["displayName"] == "Sam-2"
        await second.send({"type": "NAME_CHANGE", "newName": " SAM "})
        assert (await second.receive("ERROR"))["error"]["code"] == "chat.name_taken"
        await second.send({"type": "NAME_CHANGE", "newName": "Ad\u200bmin"})
        assert (await second.receive("ERROR"))["error"]["code"] == "chat.name_forbidden"
        await second.send({"type": "NAME_CHANGE", "newName": "samantha"})
        change = await first.receive("NAME_CHANGE")
        assert (change["oldName"], change["newName"]) == ("Sam-2", "samantha")
    finally:
        await first.disconnect()
        await second.disconnect()


async def test_signed_in_only_slow_mode_and_closed_while_offline() -> None:
    stream = await _stream()
    user = await sync_to_async(UserFactory)(role=Role.VIEWER)
    await sync_to_async(ChatSettings.objects.create)(
        stream=stream, signed_in_only=True, slow_mode_seconds=60
    )
    anonymous = await ChatClient(stream, chat_token=await register("anon")).connect()
    member = await ChatClient(stream, user=user).connect()
    try:
        await anonymous.say("hi")
        assert (await anonymous.receive("ERROR"))["error"]["code"] == "chat.signed_in_only"
        await member.say("first")
        assert (await member.receive("CHAT"))["body"] == "first"
        await member.say("second")
        error = await member.receive("ERROR")
        assert error["error"]["code"] == "chat.slow_mode"
        assert 55 <= error["error"]["params"]["retry_after"] <= 61
        # Through the service, as the API does: this process's sends see it at once.
        await sync_to_async(services.chat_settings_update)(
            stream=stream,
            fields={"slow_mode_seconds": 0, "closed_when_offline": True},
            actor=None,
        )
        await member.say("third")  # no publish session is open
        assert (await member.receive("ERROR"))["error"]["code"] == "chat.closed"
        assert await _count(stream=stream) == 1
    finally:
        await anonymous.disconnect()
        await member.disconnect()


async def test_refusals_unknown_stream_private_stream_and_bad_token() -> None:
    owner_user = await sync_to_async(UserFactory)(role=Role.OPERATOR)
    private = await _stream(visibility=LiveVisibility.PRIVATE, owner=owner_user)
    viewer = await sync_to_async(UserFactory)(role=Role.VIEWER)
    missing = ChatClient(type("S", (), {"pk": 999999})())
    assert (await missing.ws.connect())[0]
    assert await missing.close_code() == CLOSE_NOT_FOUND
    await missing.disconnect()
    anonymous = ChatClient(private)
    assert (await anonymous.ws.connect())[0]
    assert await anonymous.close_code() == CLOSE_UNAUTHENTICATED
    await anonymous.disconnect()
    stranger = ChatClient(private, user=viewer)
    assert (await stranger.ws.connect())[0]
    assert await stranger.close_code() == CLOSE_FORBIDDEN
    await stranger.disconnect()
    owner = await ChatClient(private, user=private.owner).connect()
    assert owner.info["user"]["authenticated"] is True
    assert owner.info["moderator"] is True
    await owner.disconnect()
    public = await _stream()
    forged = ChatClient(public, chat_token="not-a-token")
    assert (await forged.ws.connect())[0]
    assert await forged.close_code() == CLOSE_UNAUTHENTICATED
    await forged.disconnect()


async def test_malformed_frames_get_an_error_and_change_nothing() -> None:
    stream = await _stream()
    client = await ChatClient(stream, chat_token=await register("fuzzy")).connect()
    try:
        for raw in ["not json", "[]", '{"type": 5}', '{"type": "CHAT", "body": 7}', "{}"]:
            await client.ws.send_to(text_data=raw)
            frame = await client.receive("ERROR")
            assert frame["error"]["code"] in {"request.malformed", "chat.empty"}
        await client.send({"type": "NOPE"})
        assert (await client.receive("ERROR"))["error"]["code"] == "chat.unknown_type"
        await client.send({"type": "HIDE", "ids": "all"})
        assert (await client.receive("ERROR"))["error"]["code"] == "chat.not_moderator"
        assert await _count(stream=stream) == 0
    finally:
        await client.disconnect()


async def test_a_session_page_chats_with_its_ticket_and_a_forged_ticket_is_refused() -> None:
    from apps.chat.tickets import ticket_for

    stream = await _stream()
    user: Any = await sync_to_async(UserFactory)(role=Role.VIEWER, username="page-user")
    ticket = await sync_to_async(ticket_for)(user)
    page = ChatClient(stream)
    page.ws.scope["query_string"] = f"ticket={ticket}".encode()
    await page.connect()
    try:
        assert page.info["user"]["displayName"] == "page-user"
        assert page.info["user"]["authenticated"] is True
    finally:
        await page.disconnect()
    forged = ChatClient(stream)
    forged.ws.scope["query_string"] = f"ticket={ticket[:-2]}xx".encode()
    assert (await forged.ws.connect())[0]
    assert await forged.close_code() == CLOSE_UNAUTHENTICATED
    await forged.disconnect()
