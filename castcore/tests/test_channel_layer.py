"""A send from another thread must wake the receiver's event loop at once."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import async_to_sync

from castcore.channel_layer import ThreadSafeInMemoryChannelLayer


@pytest.mark.asyncio
async def test_a_send_from_a_worker_thread_wakes_the_receiver_at_once() -> None:
    layer = ThreadSafeInMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("jobs.status", channel)
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)  # the receiver is now waiting on this loop

    sent_at: list[float] = []

    def worker() -> None:
        sent_at.append(time.monotonic())
        async_to_sync(layer.group_send)("jobs.status", {"type": "status", "state": "running"})

    threading.Thread(target=worker).start()
    # Nothing else happens on this loop: only the cross-thread send can wake it.
    message = await asyncio.wait_for(receiving, timeout=2)
    latency = time.monotonic() - sent_at[0]
    assert message == {"type": "status", "state": "running"}
    assert latency < 0.5


@pytest.mark.asyncio
async def test_a_send_before_anyone_waits_is_kept() -> None:
    layer = ThreadSafeInMemoryChannelLayer()
    channel = await layer.new_channel()
    thread = threading.Thread(target=async_to_sync(layer.send), args=(channel, {"type": "x"}))
    thread.start()
    thread.join()
    assert await asyncio.wait_for(layer.receive(channel), timeout=2) == {"type": "x"}
