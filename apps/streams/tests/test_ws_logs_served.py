"""Log sockets served by a real daphne process get each line as its own valid frame.

The fan-out writes encoded frames straight to daphne's sockets (castcore.ws); a
strict client (`websockets`) reads them here, through the Redis layer, next to
the frames daphne sends itself (the tail).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
import websockets
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.events import StreamLogBatchEvent, log_frame_json, logs_group
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import log_line
from castcore.tests.test_run_modes import (
    ROOT,
    SERVER_START_S,
    free_port,
    stop,
    wait_for_answer,
)

pytestmark = pytest.mark.slow

# One of each frame length encoding (7-bit, 16-bit, 64-bit) and text that is not ASCII;
# then more than a socket takes at once (the rest waits in daphne's transport), and
# a short burst that must not overtake it.
FIRST = ["short", "naïve ☃ " * 40, "x" * 70_000]
LARGE = [f"{n:02d}" + "y" * 100_000 for n in range(40)]
LAST = ["last"]
MESSAGES = FIRST + LARGE + LAST


def burst(job_id: int, messages: list[str]) -> StreamLogBatchEvent:
    frames = [
        log_frame_json({**log_line(job_id, n), "message": message})
        for n, message in enumerate(messages)
    ]
    return {"type": "stream.log_batch", "job_id": job_id, "run_id": 1, "frames": frames}


async def read_frames(url: str, ready: asyncio.Event, lines: int) -> list[dict[str, Any]]:
    """The frames a socket gets after its tail, until they carry `lines` log lines."""
    origin = websockets.Origin("http://127.0.0.1")
    async with websockets.connect(url, origin=origin, max_size=None) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "tail"
        ready.set()
        frames: list[dict[str, Any]] = []
        while sum(len(frame.get("lines", [frame])) for frame in frames) < lines:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        return frames


def test_each_line_arrives_as_its_own_valid_frame_in_order(distributed_db: dict[str, str]) -> None:
    viewer: Any = UserFactory(role=Role.VIEWER)
    job = job_with_outputs({})
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env={**distributed_db, "SECURE_SSL_REDIRECT": "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"ws://127.0.0.1:{port}/api/v1/ws/logs/{job.pk}?token={AccessToken.for_user(viewer)}"

    async def watch() -> list[list[dict[str, Any]]]:
        ready = [asyncio.Event() for _ in range(3)]
        readers = [
            asyncio.ensure_future(read_frames(url, ready[0], len(MESSAGES))),
            asyncio.ensure_future(read_frames(url, ready[1], len(MESSAGES))),
            asyncio.ensure_future(read_frames(url + "&batch=1", ready[2], len(MESSAGES))),
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 20)
        layer = get_channel_layer()
        for messages in (FIRST, LARGE, LAST):
            await layer.group_send(logs_group(job.pk), burst(job.pk, messages))
        return list(await asyncio.gather(*readers))

    try:
        wait_for_answer(f"http://127.0.0.1:{port}/api/v1/system/health", SERVER_START_S)
        plain, other, batched = async_to_sync(watch)()
    finally:
        stop(server)
    for frames in (plain, other):  # one `log` frame per line
        assert [(frame["type"], frame["message"]) for frame in frames] == [
            ("log", message) for message in MESSAGES
        ]
    assert {frame["type"] for frame in batched} == {"logs"}
    assert [line["message"] for frame in batched for line in frame["lines"]] == MESSAGES
