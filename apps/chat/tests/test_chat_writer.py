"""apps.chat.writer: a stream's sends stored in batches, broadcast in id order, all or none."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat import conf, services, writer
from apps.chat.models import BanKind, ChatBan, ChatIdentity, ChatMessage
from apps.chat.tests.factories import LiveStreamFactory
from apps.chat.tests.helpers import ChatClient, register
from castcore.outbox.models import OutboxEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _ids(stream: Any) -> list[int]:
    return list(
        ChatMessage.objects.filter(stream=stream).order_by("id").values_list("id", flat=True)
    )


async def test_concurrent_sends_are_all_stored_and_reach_everyone_in_id_order() -> None:
    stream: Any = await sync_to_async(LiveStreamFactory)()
    clients = [
        await ChatClient(
            stream, chat_token=await register(f"c{n}"), address=f"10.0.0.{n}"
        ).connect()
        for n in range(6)
    ]
    try:
        # Every client sends three at once: the writer gets them while it stores others.
        await asyncio.gather(
            *(client.say(f"{n}-{k}") for n, client in enumerate(clients) for k in range(3))
        )
        orders = []
        for client in clients:
            frames = [await client.receive("CHAT") for _ in range(18)]
            ids = [frame["id"] for frame in frames]
            assert ids == sorted(ids) and len(set(ids)) == 18
            orders.append(ids)
        assert all(order == orders[0] for order in orders)
        stored = await sync_to_async(_ids)(stream)
        assert stored == orders[0]
        outbox = await sync_to_async(OutboxEvent.objects.filter(event_type="chat.message").count)()
        assert outbox == 18
    finally:
        for client in clients:
            await client.disconnect()


async def test_a_batch_that_cannot_be_stored_fails_every_send_and_broadcasts_nothing() -> None:
    stream: Any = await sync_to_async(LiveStreamFactory)()
    watcher = await ChatClient(stream, chat_token=await register("watcher")).connect()
    identity, _ = await sync_to_async(services.identity_register)(display_name="good")
    try:
        good = writer.Pending(None, identity, "fine", None)
        # An author that was never saved: the batch's INSERT cannot be made.
        bad = writer.Pending(None, ChatIdentity(display_name="ghost"), "x", None)
        results = await asyncio.gather(
            writer.writer_for(stream).send(good),
            writer.writer_for(stream).send(bad),
            return_exceptions=True,
        )
        assert all(isinstance(result, Exception) for result in results)
        assert await sync_to_async(ChatMessage.objects.filter(stream=stream).count)() == 0
        # The writer goes on with the next send; the first CHAT the watcher gets is that one.
        again = await writer.writer_for(stream).send(writer.Pending(None, identity, "again", None))
        frame: Any = await watcher.receive("CHAT")
        assert frame["id"] == again.pk and "again" in frame["body"]
    finally:
        await watcher.disconnect()


async def test_a_refused_send_in_a_batch_costs_the_others_nothing() -> None:
    stream: Any = await sync_to_async(LiveStreamFactory)()
    watcher = await ChatClient(stream, chat_token=await register("watcher")).connect()
    good, _ = await sync_to_async(services.identity_register)(display_name="good")
    banned, _ = await sync_to_async(services.identity_register)(display_name="banned")
    await sync_to_async(ChatBan.objects.create)(stream=stream, identity=banned, kind=BanKind.BAN)
    try:
        results = await asyncio.gather(
            writer.writer_for(stream).send(writer.Pending(None, good, "one", None)),
            writer.writer_for(stream).send(writer.Pending(None, banned, "spam", None)),
            writer.writer_for(stream).send(writer.Pending(None, good, "", None)),
            writer.writer_for(stream).send(writer.Pending(None, good, "two", None)),
            return_exceptions=True,
        )
        assert [getattr(result, "code", None) for result in results] == [
            None, "chat.banned", "chat.empty", None
        ]  # fmt: skip
        bodies = [(await watcher.receive("CHAT"))["body"] for _ in range(2)]
        assert "one" in bodies[0] and "two" in bodies[1]
        assert await watcher.nothing_more()
        assert await sync_to_async(ChatMessage.objects.filter(stream=stream).count)() == 2
    finally:
        await watcher.disconnect()


async def test_each_send_of_a_batch_counts_against_the_limits_of_the_next() -> None:
    stream: Any = await sync_to_async(LiveStreamFactory)()
    identity, _ = await sync_to_async(services.identity_register)(display_name="fast")
    burst = conf.IDENTITY_BURST.count
    results = await asyncio.gather(
        *(
            writer.writer_for(stream).send(writer.Pending(None, identity, f"m{n}", "192.0.2.77"))
            for n in range(burst + 2)
        ),
        return_exceptions=True,
    )
    codes = [getattr(result, "code", None) for result in results]
    assert codes == [None] * burst + ["chat.rate_limited"] * 2
    assert await sync_to_async(ChatMessage.objects.filter(stream=stream).count)() == burst
