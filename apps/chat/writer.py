"""The chat socket's store of messages: one writer per stream per web process, in batches.

A send is checked on its own (services.message_prepare: ban, modes, limits, body) on
one of the chat database threads, then handed to its stream's writer, which stores
every message waiting for it in one transaction (services.messages_store: one INSERT
for the messages, their outbox rows, one commit) and broadcasts them in id order once
it commits. On PostgreSQL a commit costs more than the rest of a message, and one
transaction per message left a busy chat's sends queueing for commits; now a batch
shares one. While a batch is being stored the next one gathers, so a quiet chat
stores each message at once and a busy one in fewer, larger transactions.

A sender's await ends once its message is stored and published; an error storing a
batch (the database) fails every send of it, and nothing of it is broadcast.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync

from apps.chat import events, services
from apps.chat.models import ChatMessage
from castcore.events import kick_outbox, outbox_kicks_deferred

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Threads for chat's database work: a check waits for PostgreSQL and Redis, so more of
# them in flight keep up with a busy chat; kept below the web process's connection
# pool (CASTCORE_DB_POOL_SIZE, 20).
CHAT_DB_THREADS = 12
# A batch larger than this waits for the next transaction (bounds one INSERT).
MAX_BATCH = 200


@functools.cache
def executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=CHAT_DB_THREADS, thread_name_prefix="chat-db")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `function` on a chat database thread (a connection of its own, closed if stale).

    Not on the one thread Channels runs database calls on (thread_sensitive): with one
    thread, every socket's call waited for all the calls before it.
    """
    call = functools.partial(function, *args, **kwargs)
    return await DatabaseSyncToAsync(call, thread_sensitive=False, executor=executor())()


def _store(
    messages: list[ChatMessage],
) -> tuple[list[tuple[str, dict[str, Any]]], list[int]]:
    with events.collecting() as collected, outbox_kicks_deferred() as kicks:
        services.messages_store(messages)
    return collected, kicks


def _kick_all(event_ids: list[int]) -> None:
    for event_id in event_ids:
        kick_outbox(event_id)


class StreamWriter:
    """The messages of one stream waiting to be stored, and the task storing them."""

    def __init__(self) -> None:
        self.waiting: list[tuple[ChatMessage, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, message: ChatMessage) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((message, future))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())
        # Shielded: a sender whose socket closes meanwhile does not cancel the batch.
        await asyncio.shield(future)

    async def _drain(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            try:
                collected, kicks = await in_thread(_store, [message for message, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            try:
                # Published from here, in id order, before the next batch is stored.
                await events.send_collected(collected)
            except Exception:
                # Stored, so not the senders' error: a live event is best effort (a
                # reconnect's backlog has the messages).
                logger.warning("could not publish %d chat events", len(collected), exc_info=True)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            if kicks:
                # The webhooks' hand-over waits for nothing here (the sweep is its net).
                asyncio.get_running_loop().run_in_executor(executor(), _kick_all, kicks)


_writers: dict[tuple[asyncio.AbstractEventLoop, int], StreamWriter] = {}


def writer_for(stream_id: int) -> StreamWriter:
    key = (asyncio.get_running_loop(), stream_id)
    writer = _writers.get(key)
    if writer is None:
        writer = _writers[key] = StreamWriter()
    return writer
