"""A burst of ffmpeg log lines leaves the worker as a few events, in order, each line intact."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from channels.layers import get_channel_layer

from apps.streams.events import StreamLogEvent
from apps.streams.runtime.bridge import LOG_WINDOW_SECONDS, ChannelBridge
from castcore.events import release_channel

pytestmark = pytest.mark.asyncio


def line(number: int) -> StreamLogEvent:
    return {
        "type": "stream.log",
        "job_id": 9,
        "run_id": 3,
        "at": f"2026-11-22T12:00:00.{number:06d}+00:00",
        "level": "info",
        "message": f"line {number}",
        "component": "ffmpeg",
        "hint_code": None,
        "hint": None,
        "line": f"line {number}",
    }


async def collect(layer: Any, channel: str, lines: int, timeout: float = 5) -> list[Any]:
    events: list[Any] = []
    got = 0
    while got < lines:
        event = await asyncio.wait_for(layer.receive(channel), timeout)
        events.append(event)
        got += len(event["frames"])
    return events


async def test_a_burst_of_lines_travels_as_a_few_events() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("viewer.")
    await layer.group_add("job.9.logs", channel)
    bridge = ChannelBridge()
    try:

        def burst() -> float:
            # ffmpeg's reader thread hands lines over one by one, a few ms for the lot.
            began = time.monotonic()
            for number in range(20):
                bridge.send_log("job.9.logs", line(number))
                time.sleep(0.0002)
            return time.monotonic() - began

        took = await asyncio.to_thread(burst)
        events = await collect(layer, channel, 20)
        # One event per window the burst spans (a line each without batching: 20): one
        # when it fits; a busy machine may stretch it over a few windows.
        windows = int(took / LOG_WINDOW_SECONDS) + 1
        assert len(events) <= windows + 2, (took, [len(event["frames"]) for event in events])
        assert {event["type"] for event in events} == {"stream.log_batch"}
        frames = [json.loads(frame) for event in events for frame in event["frames"]]
        assert [frame["message"] for frame in frames] == [f"line {n}" for n in range(20)]
        assert frames[5]["at"] == line(5)["at"]  # each line keeps its own time

        # A line after a quiet spell is a batch of its own, no later than the window.
        await asyncio.sleep(LOG_WINDOW_SECONDS * 5)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await asyncio.to_thread(bridge.send_log, "job.9.logs", line(20))
        [event] = await collect(layer, channel, 1)
        assert json.loads(event["frames"][0])["message"] == "line 20"
        assert loop.time() - sent < LOG_WINDOW_SECONDS + 0.5
    finally:
        await asyncio.to_thread(bridge.stop)
        await layer.group_discard("job.9.logs", channel)
        await release_channel(layer, channel)


async def test_a_status_event_does_not_wait_for_the_log_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first progress of a run comes right behind ffmpeg's banner lines: it must not
    # wait for their window to close. The lines waiting go first, then the status.
    monkeypatch.setattr("apps.streams.runtime.bridge.LOG_WINDOW_SECONDS", 30.0)
    layer = get_channel_layer()
    channel = await layer.new_channel("viewer.")
    await layer.group_add("job.9.logs", channel)
    await layer.group_add("jobs.status", channel)
    bridge = ChannelBridge()
    try:
        await asyncio.to_thread(bridge.send_log, "job.9.logs", line(1))
        await asyncio.to_thread(bridge.send, "jobs.status", {"type": "stream.status", "n": 1})
        first = await asyncio.wait_for(layer.receive(channel), 5)
        second = await asyncio.wait_for(layer.receive(channel), 5)
        assert first["type"] == "stream.log_batch"
        assert json.loads(first["frames"][0])["message"] == "line 1"
        assert second == {"type": "stream.status", "n": 1}
    finally:
        await asyncio.to_thread(bridge.stop)
        await layer.group_discard("job.9.logs", channel)
        await layer.group_discard("jobs.status", channel)
        await release_channel(layer, channel)


async def test_start_returns_at_once_and_the_listener_says_when_it_hears() -> None:
    heard: list[dict[str, Any]] = []
    got = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_message(message: dict[str, Any]) -> None:  # called on the bridge's own thread
        heard.append(message)
        loop.call_soon_threadsafe(got.set)

    bridge = ChannelBridge(listen_group="job.9.control", on_message=on_message)
    await asyncio.to_thread(bridge.start)
    try:
        await asyncio.wait_for(got.wait(), 5)
        # The run reads its row on this message: a nudge sent before now reached nobody.
        assert heard == [{"type": "stream.control.listening"}]
        got.clear()
        await asyncio.to_thread(bridge.start)  # a later spawn's call: still one listener
        await get_channel_layer().group_send(
            "job.9.control", {"type": "stream.control", "job_id": 9, "command": "stop"}
        )
        await asyncio.wait_for(got.wait(), 5)
        await asyncio.sleep(0.3)  # time for a second listener's copy, were there one
        assert [m["type"] for m in heard] == ["stream.control.listening", "stream.control"]
        assert heard[-1]["command"] == "stop"
    finally:
        await asyncio.to_thread(bridge.stop)
