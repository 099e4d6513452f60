"""The chat socket's sends: one writer per stream per web process, checked and stored in batches.

A socket hands each send (who, what, from where) to its stream's writer, which takes
every send waiting for it in one trip to a chat database thread: the socket's own
checks (may the sender still read the stream, does it moderate), then
services.messages_prepare (bans in one query, the rate limits in one Redis round trip,
modes, body) and services.messages_store for the sends that passed (one INSERT for the
messages, their outbox rows, one commit). Then it broadcasts them in id order from the
event loop, in one channel-layer message (apps.chat.events.send_collected: one PUBLISH
per batch, and each web process's sockets get the batch in one fan-out pass), and hands
their outbox events to Celery a little later, gathered (KICK_GATHER_SECONDS). While a
batch is being stored the next one gathers, so a quiet chat stores each message at once
and a busy one in fewer, larger transactions.

Before, each send was checked on a thread of its own (12 of them) and only stored in
batches: at 50 sends a second the threads' queries and their hand-overs of the GIL
delayed the event loop that writes to every socket. One thread per stream does the
same work in a few queries per batch.

A sender's await ends once its message is stored and published (or refused: its
ChatError, or NotReadable); an error storing a batch (the database) fails every send
of it that was not refused, and nothing of it is broadcast.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync

from apps.chat import events, selectors, services
from apps.chat.models import ChatIdentity, ChatMessage
from apps.streams.models import LiveStream
from castcore.events import kick_outbox_many, outbox_kicks_deferred

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Threads for chat's database work (sockets opening, renames, moderation, the writers'
# batches): each mostly waits for PostgreSQL or Redis, so a burst of sockets opening
# goes faster with several in flight; kept below the web process's connection pool
# (CASTCORE_DB_POOL_SIZE, 20).
CHAT_DB_THREADS = 12
# A batch larger than this waits for the next transaction (bounds one INSERT).
MAX_BATCH = 200
# The stored messages' outbox events (webhooks) are handed to Celery in one task message
# per this interval at most, not one per message: each queueing is a broker round trip
# and about a millisecond of the web process's CPU. A webhook of a chat message leaves
# that much later; an event whose hand-over is lost is sent by the outbox sweep.
KICK_GATHER_SECONDS = 0.2


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


class NotReadable(Exception):
    """The sender may no longer read the stream (it turned private since the socket opened)."""


@dataclass(frozen=True)
class Pending:
    """A send as the socket hands it over."""

    user: Any  # scope["user"], or None for a chat token
    identity: ChatIdentity
    body: object
    address: str | None


Outcome = ChatMessage | services.ChatError | NotReadable


def _check_and_store(
    stream: LiveStream, batch: list[Pending]
) -> tuple[list[Outcome], list[tuple[str, dict[str, Any]]], list[int]]:
    outcomes: list[Outcome | None] = []
    sends: list[services.Send] = []
    for pending in batch:
        # The stream may have turned private since connect(): each send looks again.
        if not selectors.may_still_read(pending.user, stream):
            outcomes.append(NotReadable())
            continue
        outcomes.append(None)
        moderator = selectors.may_moderate(pending.user, stream)
        sends.append(services.Send(pending.identity, pending.body, pending.address, moderator))
    prepared = iter(services.messages_prepare(stream=stream, sends=sends) if sends else [])
    found = [outcome if outcome is not None else next(prepared) for outcome in outcomes]
    with events.collecting() as collected, outbox_kicks_deferred() as kicks:
        services.messages_store([outcome for outcome in found if isinstance(outcome, ChatMessage)])
    return found, collected, kicks


class StreamWriter:
    """The sends of one stream waiting to be checked and stored, and the task doing it."""

    def __init__(self, stream: LiveStream) -> None:
        self.stream = stream
        self.waiting: list[tuple[Pending, asyncio.Future[ChatMessage]]] = []
        self.task: asyncio.Task[None] | None = None
        self.kicks: list[int] = []
        self.kicking: asyncio.Task[None] | None = None

    async def send(self, pending: Pending) -> ChatMessage:
        """The message stored and broadcast, or its refusal raised (ChatError, NotReadable)."""
        future: asyncio.Future[ChatMessage] = asyncio.get_running_loop().create_future()
        self.waiting.append((pending, future))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())
        # Shielded: a sender whose socket closes meanwhile does not cancel the batch.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            try:
                outcomes, collected, kicks = await in_thread(
                    _check_and_store, self.stream, [pending for pending, _ in batch]
                )
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
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            if kicks:
                # The webhooks' hand-over waits for nothing here (the sweep is its net).
                self.kicks += kicks
                if self.kicking is None or self.kicking.done():
                    self.kicking = asyncio.ensure_future(self._kick())

    async def _kick(self) -> None:
        """Hand the stored messages' outbox events over, gathered (KICK_GATHER_SECONDS)."""
        while self.kicks:
            await asyncio.sleep(KICK_GATHER_SECONDS)
            kicks, self.kicks = self.kicks, []
            await asyncio.get_running_loop().run_in_executor(executor(), kick_outbox_many, kicks)


_writers: dict[tuple[asyncio.AbstractEventLoop, int], StreamWriter] = {}


def writer_for(stream: LiveStream) -> StreamWriter:
    key = (asyncio.get_running_loop(), stream.pk)
    writer = _writers.get(key)
    if writer is None:
        writer = _writers[key] = StreamWriter(stream)
    return writer
