"""The channel-layer side of supervised runs: one event-loop thread per worker process.

ffmpeg's reader threads must never block on Redis (a full stderr pipe would
stall ffmpeg itself), and a new event loop per event would open a Redis
connection per log line. So runs hand events to a `ChannelBridge`, which
queues them for the process's one hub loop and returns at once.

One loop for every run of the process, with a layer instance of its own:
channels_redis lets only one event loop receive() on a layer instance, so a
loop per run made every control listener after the first fail ("Two event
loops are trying to receive() on one channel layer at once!") and control fell
back to heartbeats. Here all listeners receive on the hub's loop, and the hub's
Redis layer is not the one daphne's loop uses in the same process. The
in-memory layer (embedded mode) is shared as it is: an instance of its own
would hear nothing.

Each bridge sends its events in order (one pump per run), and log lines
travel together as one `stream.log_batch` event: a log line that finds the
bridge idle waits LOG_WINDOW_SECONDS for the lines behind it (ffmpeg prints
its banner and stream maps in bursts of dozens of lines within a few ms), and
lines queued while a send is in flight join the next batch. A burst is then a
few group_sends, not one per line, and every socket gets a few frames instead
of dozens; each line keeps its own `at`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer

from apps.streams.events import StreamLogBatchEvent, StreamLogEvent, log_frame_json
from castcore.events import release_channel

logger = logging.getLogger(__name__)

# Events waiting to be sent per run; beyond this, live events are dropped (the DB tail keeps lines).
MAX_PENDING = 500
# Lines in one stream.log_batch event at most.
MAX_BATCH_LINES = 100
# How long a log line that starts a batch waits for the rest of its burst. Every
# event costs each connected socket a wake-up and a frame; with 200 sockets, a
# 40-line burst sent line by line kept the web process busy for most of a second.
LOG_WINDOW_SECONDS = 0.01
# Redis forgets group members after a day; re-join well before that.
REJOIN_SECONDS = 600.0
# Pause before listening again after the layer failed a receive.
RELISTEN_SECONDS = 1.0


class _Hub:
    """The process's event loop thread and the channel layer it talks to."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._own_layer: Any = None
        thread = threading.Thread(target=self.loop.run_forever, name="stream-hub", daemon=True)
        thread.start()

    def layer(self) -> Any:
        """The layer to use on the hub loop (called on it)."""
        shared = get_channel_layer()
        if shared is None or isinstance(shared, InMemoryChannelLayer):
            return shared
        if self._own_layer is None:
            self._own_layer = channel_layers.make_backend("default")
        return self._own_layer


_hub: _Hub | None = None
_hub_lock = threading.Lock()


def hub() -> _Hub:
    """The hub of this process (a forked child starts its own)."""
    global _hub
    with _hub_lock:
        if _hub is None or _hub.pid != os.getpid():
            _hub = _Hub()
        return _hub


class _LogBatch:
    def __init__(self, group: str, line: StreamLogEvent) -> None:
        self.group = group
        self.lines = [line]


_Item = tuple[str, dict[str, Any]] | _LogBatch


class ChannelBridge:
    """One run's events (in order, best effort) and its control listener, on the hub loop."""

    def __init__(
        self,
        *,
        listen_group: str | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._listen_group = listen_group
        self._on_message = on_message
        self._hub = hub()
        self._pending: deque[_Item] = deque()
        self._pumping = False  # a pump task is scheduled or running
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._stopping = False
        self._listener: asyncio.Future[None] | None = None
        self._pump_task: asyncio.Future[None] | None = None
        self._subscribing: concurrent.futures.Future[None] | None = None

    def start(self) -> None:
        """Start the control listener and return at once: a run does not wait for Redis.

        Once the listener is in place, `on_message` gets a `stream.control.listening`
        message, so the run reads its row then: a nudge published before that
        moment reached nobody and would otherwise wait for the next heartbeat.
        Calls after the first do nothing.
        """
        if self._listen_group and self._on_message and self._subscribing is None:
            self._subscribing = asyncio.run_coroutine_threadsafe(self._subscribe(), self._hub.loop)
            self._subscribing.add_done_callback(self._subscribed)

    def _subscribed(self, future: concurrent.futures.Future[None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # The heartbeat still reads the row; nudges only make control faster.
            logger.warning("control listener not started; relying on heartbeats", exc_info=error)
            return
        assert self._on_message is not None
        try:
            self._on_message({"type": "stream.control.listening"})
        except Exception:
            logger.exception("control message handler failed")

    def send(self, group: str, event: Mapping[str, Any]) -> None:
        """Queue `event` for `group` and return at once."""
        self._enqueue((group, dict(event)))

    def send_log(self, group: str, line: StreamLogEvent) -> None:
        """Queue a log line; lines queued behind an unsent one go out with it in one event."""
        with self._lock:
            last = self._pending[-1] if self._pending else None
            if (
                isinstance(last, _LogBatch)
                and last.group == group
                and len(last.lines) < MAX_BATCH_LINES
            ):
                last.lines.append(line)
                return
        self._enqueue(_LogBatch(group, line), delay=LOG_WINDOW_SECONDS)

    def _enqueue(self, item: _Item, delay: float = 0.0) -> None:
        with self._lock:
            if self._stopping or len(self._pending) >= MAX_PENDING:
                return
            self._pending.append(item)
            due = self._pumping  # a pump is running, or waiting for a log window to close
            self._pumping = True
            self._idle.clear()
        if delay:
            if not due:
                loop = self._hub.loop
                loop.call_soon_threadsafe(loop.call_later, delay, self._start_pump)
        else:
            # Anything but a log line goes at once, and the lines still waiting for their
            # window go with it (in order, ahead of it): a status event (the first
            # progress of a run, say) must not wait behind a burst of banner lines.
            self._hub.loop.call_soon_threadsafe(self._start_pump)

    def stop(self, timeout: float = 5.0) -> None:
        """Flush queued events (up to `timeout`) and stop listening."""
        with self._lock:
            self._stopping = True
        if not self._idle.wait(timeout):
            logger.warning("stream event bridge did not drain within %s s", timeout)
        if self._subscribing is not None:
            # A listener that is still being set up would outlive the run.
            with contextlib.suppress(Exception):
                self._subscribing.result(timeout)
        if self._listener is not None:
            listener = self._listener
            future = asyncio.run_coroutine_threadsafe(_cancel(listener), self._hub.loop)
            try:
                future.result(timeout)
            except Exception:
                logger.debug("control listener did not end cleanly", exc_info=True)

    # ----------------------------------------------------------- on the hub loop

    def _start_pump(self) -> None:
        # One pump at a time keeps events in order; a window timer that fires after an
        # early start finds the pump running, or nothing left to send.
        if self._pump_task is not None and not self._pump_task.done():
            return
        self._pump_task = asyncio.ensure_future(self._pump())  # a reference keeps it alive

    async def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._pumping = False
                    self._idle.set()
                    return
                item = self._pending.popleft()
            if isinstance(item, _LogBatch):
                group = item.group
                event: dict[str, Any] = dict(_batch_event(item.lines))
            else:
                group, event = item
            try:
                layer = self._hub.layer()
                if layer is not None:
                    await layer.group_send(group, event)
            except Exception:
                kind = event.get("type")
                logger.warning("Could not publish %s to %s", kind, group, exc_info=True)

    async def _subscribe(self) -> None:
        layer = self._hub.layer()
        if layer is None:
            return
        channel = await layer.new_channel("stream-control.")
        assert self._listen_group is not None
        await layer.group_add(self._listen_group, channel)
        if self._stopping:  # the run ended while Redis was slow to answer: nobody to wake
            await layer.group_discard(self._listen_group, channel)
            await release_channel(layer, channel)
            return
        self._listener = asyncio.ensure_future(self._listen(layer, channel))

    async def _listen(self, layer: Any, channel: str) -> None:
        assert self._listen_group and self._on_message
        receiving = asyncio.ensure_future(layer.receive(channel))
        try:
            while True:
                done, _ = await asyncio.wait({receiving}, timeout=REJOIN_SECONDS)
                if not done:
                    await layer.group_add(self._listen_group, channel)
                    continue
                try:
                    message = receiving.result()
                except Exception:
                    # Redis restarted, or its client timed out a blocking read: listen
                    # again (the heartbeat covers the gap) rather than give up for the
                    # rest of a run that may last days.
                    logger.warning("control listener failed; listening again", exc_info=True)
                    await asyncio.sleep(RELISTEN_SECONDS)
                    with contextlib.suppress(Exception):  # if still down, receive fails again
                        await layer.group_add(self._listen_group, channel)
                    receiving = asyncio.ensure_future(layer.receive(channel))
                    continue
                receiving = asyncio.ensure_future(layer.receive(channel))
                try:
                    self._on_message(message)
                except Exception:
                    logger.exception("control message handler failed")
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.warning("control listener stopped; falling back to heartbeats", exc_info=True)
        finally:
            receiving.cancel()
            try:
                await layer.group_discard(self._listen_group, channel)
            except Exception:
                logger.debug("could not leave %s", self._listen_group, exc_info=True)


def _batch_event(lines: list[StreamLogEvent]) -> StreamLogBatchEvent:
    return {
        "type": "stream.log_batch",
        "job_id": lines[0]["job_id"],
        "run_id": lines[0]["run_id"],
        "frames": [log_frame_json(line) for line in lines],
    }


async def _cancel(task: asyncio.Future[None]) -> None:
    task.cancel()
    await asyncio.wait([task], timeout=2)
