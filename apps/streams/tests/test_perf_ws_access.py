"""The per-event permission check of the stream sockets is cheap, and still cuts users off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams import consumers
from apps.streams.events import logs_group, publish_status
from apps.streams.status import status_event
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import log_burst as batch
from castcore.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@pytest.fixture(autouse=True)
def _fresh_answers() -> Iterator[None]:
    consumers._answers.clear()  # ids repeat between tests that flush the database
    yield
    consumers._answers.clear()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int | None]]:
    """Every database permission check the consumers make, as (user id, job id)."""
    made: list[tuple[int, int | None]] = []
    real = consumers._may_see

    async def counted(user: Any, job_id: int | None) -> bool:
        made.append((user.pk, job_id))
        return bool(await real(user, job_id))

    monkeypatch.setattr(consumers, "_may_see", counted)
    return made


async def viewer_and_job() -> tuple[Any, Any]:
    """A viewer and a job they may see."""
    viewer = await sync_to_async(UserFactory)(role=Role.VIEWER)
    return viewer, await sync_to_async(job_with_outputs)({})


async def closed_with(ws: WebsocketCommunicator, code: int) -> None:
    output = await ws.receive_output(timeout=5)
    assert (output["type"], output["code"]) == ("websocket.close", code)


async def logs_socket(user: Any, job_id: int) -> WebsocketCommunicator:
    path = f"/api/v1/ws/logs/{job_id}?token={AccessToken.for_user(user)}"
    ws = WebsocketCommunicator(application, path, headers=HEADERS)
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from(timeout=5))["type"] == "tail"
    return ws


async def test_sockets_of_one_user_share_one_recent_answer_for_a_burst_of_lines(
    monkeypatch: pytest.MonkeyPatch, checks: list[tuple[int, int | None]]
) -> None:
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 3600.0)
    viewer, job = await viewer_and_job()
    sockets = [await logs_socket(viewer, job.pk) for _ in range(5)]
    assert checks == [(viewer.pk, job.pk)] * 5  # connect always asks the database
    layer = get_channel_layer()
    for first in range(0, 30, 3):
        await layer.group_send(logs_group(job.pk), batch(job.pk, first, 3))
    for ws in sockets:
        frames = [await ws.receive_json_from(timeout=5) for _ in range(30)]
        # One frame per line, in order, each with the time its own line was parsed.
        assert [f["message"] for f in frames] == [f"line {n}" for n in range(30)]
        assert {f["type"] for f in frames} == {"log"}
        assert frames[7]["at"] == "2026-01-01T00:00:07+00:00"
        await ws.disconnect()
    assert len(checks) == 5  # 150 forwarded lines, no further database check


async def test_a_deactivated_user_is_cut_off_once_the_answer_is_due_again(
    monkeypatch: pytest.MonkeyPatch, checks: list[tuple[int, int | None]]
) -> None:
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 3600.0)
    viewer, job = await viewer_and_job()
    ws = await logs_socket(viewer, job.pk)
    await User.objects.filter(pk=viewer.pk).aupdate(is_active=False)
    layer = get_channel_layer()
    await layer.group_send(logs_group(job.pk), batch(job.pk, 0, 1))
    # Within the recheck interval the recent answer stands...
    assert (await ws.receive_json_from(timeout=5))["message"] == "line 0"

    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 0.0)
    await layer.group_send(logs_group(job.pk), batch(job.pk, 1, 1))
    # ...and the first event after it asks the database, which says no.
    await closed_with(ws, 4403)
    assert checks[-1] == (viewer.pk, job.pk)


async def test_an_answer_past_half_its_life_is_checked_again_without_holding_events(
    monkeypatch: pytest.MonkeyPatch, checks: list[tuple[int, int | None]]
) -> None:
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 10.0)
    viewer, job = await viewer_and_job()
    ws = await logs_socket(viewer, job.pk)
    gate = asyncio.Event()
    counted = consumers._may_see

    async def held(user: Any, job_id: int | None) -> bool:
        await gate.wait()  # the database is slow to answer
        return bool(await counted(user, job_id))

    monkeypatch.setattr(consumers, "_may_see", held)
    key = (viewer.pk, job.pk)
    consumers._answers[key] = (time.monotonic() - 6.0, True)  # 6 s old: still stands
    await User.objects.filter(pk=viewer.pk).aupdate(is_active=False)
    layer = get_channel_layer()
    await layer.group_send(logs_group(job.pk), batch(job.pk, 0, 1))
    # Forwarded on the standing answer while the new check waits for the database.
    assert (await ws.receive_json_from(timeout=5))["message"] == "line 0"
    assert checks == [key]  # the connect's check; the new one is still at the gate
    gate.set()
    for _ in range(100):
        if consumers._answers[key][1] is False:
            break
        await asyncio.sleep(0.02)
    await layer.group_send(logs_group(job.pk), batch(job.pk, 1, 1))
    await closed_with(ws, 4403)
    assert checks == [key, key]


@pytest.mark.parametrize("socket", ["logs", "status"])
async def test_a_check_that_fails_closes_the_socket_for_the_client_to_reconnect(
    monkeypatch: pytest.MonkeyPatch, socket: str
) -> None:
    viewer, job = await viewer_and_job()
    if socket == "logs":
        ws = await logs_socket(viewer, job.pk)
    else:
        ws = WebsocketCommunicator(
            application, f"/api/v1/ws/status?token={AccessToken.for_user(viewer)}", headers=HEADERS
        )
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "snapshot"

    async def unreachable(user: Any, job_id: int | None) -> bool:
        raise OperationalError("the database is unreachable")

    monkeypatch.setattr(consumers, "_may_see", unreachable)
    consumers._answers.clear()  # the connect's answer is due again
    if socket == "logs":
        await get_channel_layer().group_send(logs_group(job.pk), batch(job.pk, 0, 1))
    else:
        await sync_to_async(publish_status)(await sync_to_async(status_event)(job))
    # Not a silent gap in the stream: 1011, and the client reads the state afresh.
    await closed_with(ws, 1011)


async def test_a_batched_logs_socket_gets_one_frame_per_burst() -> None:
    viewer, job = await viewer_and_job()
    path = f"/api/v1/ws/logs/{job.pk}?token={AccessToken.for_user(viewer)}&batch=1"
    ws = WebsocketCommunicator(application, path, headers=HEADERS)
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from(timeout=5))["type"] == "tail"
    await get_channel_layer().group_send(logs_group(job.pk), batch(job.pk, 0, 4))
    frame = await ws.receive_json_from(timeout=5)
    assert frame["type"] == "logs" and frame["job_id"] == job.pk
    assert [line["message"] for line in frame["lines"]] == ["line 0", "line 1", "line 2", "line 3"]
    assert {line["type"] for line in frame["lines"]} == {"log"}
    assert frame["lines"][2]["at"] == "2026-01-01T00:00:02+00:00"
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()
