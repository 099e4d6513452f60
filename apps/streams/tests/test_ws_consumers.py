"""WS logs and status end to end: real supervisor → channel layer → consumer → client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.events import publish_status
from apps.streams.models import ExitReason, StreamJob, StreamRun
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.status import status_payload
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import RunThread
from castcore.asgi import application
from castcore.tests.websockets import refusal_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def socket(path: str, user: Any | None = None) -> WebsocketCommunicator:
    if user is not None:
        path += f"?token={AccessToken.for_user(user)}"
    return WebsocketCommunicator(application, path, headers=HEADERS)


async def frame_of(
    ws: WebsocketCommunicator, kind: str, timeout: float = 15.0, **match: Any
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        frame = await ws.receive_json_from(timeout=left)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame
    raise AssertionError(f"no {kind} frame matching {match}")


async def frame_of_close(ws: WebsocketCommunicator, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        output = await ws.receive_output(timeout=left)
        if output["type"] == "websocket.close":
            return dict(output)
    raise AssertionError("the socket was not closed")


def udp_job() -> StreamJob:
    return job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""})


async def test_a_logs_socket_for_an_id_no_row_can_have_is_closed_with_4404() -> None:
    viewer = await sync_to_async(UserFactory)(role=Role.VIEWER)
    for job_id in ("9" * 5000, str(2**63)):  # beyond int()'s digit limit; beyond BIGINT
        assert await refusal_code(socket(f"/api/v1/ws/logs/{job_id}", viewer)) == 4404


async def test_anonymous_sockets_are_closed_with_4401() -> None:
    for path in ("/api/v1/ws/status", "/api/v1/ws/logs/1"):
        assert await refusal_code(socket(path)) == 4401


async def test_the_logs_socket_sends_the_recent_tail_first() -> None:
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    job = await sync_to_async(udp_job)()
    line = {"level": "error", "line": "[error] boom", "hint_code": None, "hint": None}
    await StreamRun.objects.acreate(job=job, number=1, fencing_token=1, log_tail=[line])
    ws = socket(f"/api/v1/ws/logs/{job.pk}", viewer)
    assert (await ws.connect())[0]
    tail = await ws.receive_json_from(timeout=3)
    assert tail["type"] == "tail" and tail["lines"] == [line]
    await ws.disconnect()


@pytest.mark.slow
async def test_live_lines_and_status_reach_viewers_and_stop_when_access_ends() -> None:
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    job = await sync_to_async(udp_job)()
    logs = socket(f"/api/v1/ws/logs/{job.pk}", viewer)
    status = socket("/api/v1/ws/status", viewer)
    assert (await logs.connect())[0] and (await status.connect())[0]
    assert (await logs.receive_json_from(timeout=3))["type"] == "tail"
    snapshot = await status.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot" and snapshot["jobs"][0]["state"] == "stopped"

    await sync_to_async(stream_job_start)(actor=None, job=job)
    run = await StreamRun.objects.aget(job=job)
    thread = RunThread(run)
    thread.start()
    try:
        line = await frame_of(logs, "log")
        assert line["job_id"] == job.pk and line["level"] in {"info", "warning", "error"}
        assert {"hint_code", "hint", "component", "message"} <= set(line)
        live = await frame_of(status, "status", state="running")
        live = (
            live if live["fps"] is not None else await frame_of(status, "status", state="running")
        )
        assert live["job_id"] == job.pk and 0 <= live["health"] <= 100 and "reconnects" in live

        await User.objects.filter(pk=viewer.pk).aupdate(is_active=False)
        closed = await frame_of_close(status)
        assert closed["code"] == 4403
    finally:
        await sync_to_async(stream_job_stop)(actor=None, job=job)
        await asyncio.to_thread(thread.join, 15)
    assert thread.result == ExitReason.STOPPED
    await logs.disconnect()


async def test_a_runs_starting_that_arrives_after_its_running_is_not_shown() -> None:
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    job = await sync_to_async(udp_job)()
    status = socket("/api/v1/ws/status", viewer)
    assert (await status.connect())[0]
    assert (await status.receive_json_from(timeout=3))["type"] == "snapshot"

    def publish(state: str, run_id: int) -> None:
        event = status_payload(job, None, state=state)
        event["run_id"] = run_id
        publish_status(event)

    # The worker's "running" of run 7 overtook the web's "starting" of it; run 8 is new.
    for state, run_id in (("running", 7), ("starting", 7), ("starting", 8), ("running", 8)):
        await sync_to_async(publish)(state, run_id)
    seen: list[tuple[str, int]] = []
    while len(seen) < 3:
        frame = await status.receive_json_from(timeout=5)
        seen.append((frame["state"], frame["run_id"]))
    assert seen == [("running", 7), ("starting", 8), ("running", 8)]
    await status.disconnect()
