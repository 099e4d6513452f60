"""An in-memory channel layer that is safe to send to from other threads.

In the embedded mode the Celery worker runs in threads of the web process and
publishes events that WebSocket consumers, on daphne's event loop, receive.
Channels' InMemoryChannelLayer uses plain asyncio queues: a put from another
thread does not wake the waiting consumer, so events arrived only when the
loop next woke for some other reason. Here a send from a foreign thread is
handed to the receiver's loop with call_soon_threadsafe, which wakes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

logger = logging.getLogger("castcore.channel_layer")


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The loop each channel's receiver waits on.
        self._receiver_loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def receive(self, channel: str) -> Any:
        self._receiver_loops[channel] = asyncio.get_running_loop()
        try:
            return await super().receive(channel)
        finally:
            if channel not in self.channels:
                self._receiver_loops.pop(channel, None)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        owner = self._receiver_loops.get(channel)
        if owner is None or owner is asyncio.get_running_loop() or owner.is_closed():
            await super().send(channel, message)
            return
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        item = (time.time() + self.expiry, deepcopy(message))
        try:
            owner.call_soon_threadsafe(self._put_on_owner_loop, channel, item)
        except RuntimeError:  # the receiver's loop closed meanwhile
            await super().send(channel, message)

    def _put_on_owner_loop(self, channel: str, item: tuple[float, dict[str, Any]]) -> None:
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            # Same outcome as ChannelFull for a local sender: the message is dropped.
            logger.warning("Channel %s is full; dropped a %s event", channel, item[1].get("type"))


__all__ = ["ChannelFull", "ThreadSafeInMemoryChannelLayer"]
