"""WS /api/v1/ws/scans/{id}: live progress of a real scan, end to end through the ASGI app."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from apps.media.models import StorageSource
from apps.media.services import media_scan_run, media_scan_start
from castcore.asgi import application
from castcore.tests.websockets import refusal_code
from workers.ffmpeg.testing import Library

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _socket(path: str, user: Any | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        token = await sync_to_async(lambda: str(RefreshToken.for_user(user).access_token))()
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def _refused(path: str, user: Any | None) -> int:
    """The close code of a refused socket (accepted, then closed)."""
    return await refusal_code(await _socket(path, user))


async def test_a_viewer_sees_the_scan_progress_to_done(viewer_user: Any, library: Library) -> None:
    source = await sync_to_async(StorageSource.objects.create)(
        name="lib", kind="local", path=str(library.root)
    )
    scan = await sync_to_async(media_scan_start)(source=source, dispatch=False)
    ws = await _socket(f"/api/v1/ws/scans/{scan.pk}", viewer_user)
    assert (await ws.connect())[0]
    snapshot = await ws.receive_json_from(timeout=5)
    assert (snapshot["event"], snapshot["scan"]["state"]) == ("snapshot", "queued")
    await sync_to_async(media_scan_run)(scan_id=scan.pk)
    events: list[dict[str, Any]] = []
    while not events or events[-1]["event"] not in ("done", "failed"):
        events.append(await ws.receive_json_from(timeout=10))
    assert events[0]["event"] == "started"
    assert any(e["event"] == "progress" for e in events)
    final = events[-1]["scan"]
    assert (final["state"], final["progress"], final["probed"]) == ("done", 100, len(library.media))
    await ws.disconnect()


async def test_anonymous_and_unknown_scans_are_refused(viewer_user: Any) -> None:
    assert await _refused("/api/v1/ws/scans/1", None) == 4401
    assert await _refused("/api/v1/ws/scans/999", viewer_user) == 4404


async def test_the_source_wide_socket_needs_an_operator(
    viewer_user: Any, operator_user: Any
) -> None:
    source = await sync_to_async(StorageSource.objects.create)(name="s", kind="local", path="/srv")
    refused = await _refused(f"/api/v1/ws/storage-sources/{source.pk}/scans", viewer_user)
    assert refused == 4403
    ws = await _socket(f"/api/v1/ws/storage-sources/{source.pk}/scans", operator_user)
    assert (await ws.connect())[0]
    scan = await sync_to_async(media_scan_start)(source=source, dispatch=False)
    event = await ws.receive_json_from(timeout=5)
    assert (event["event"], event["scan"]["id"]) == ("queued", scan.pk)
    await ws.disconnect()


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/ws/scans/{2**63}",
        "/api/v1/ws/scans/99999999999999999999999999",
        "/api/v1/ws/scans/0",
        "/api/v1/ws/scans/" + "9" * 5000,
        f"/api/v1/ws/storage-sources/{2**64}/scans",
        "/api/v1/ws/storage-sources/" + "9" * 5000 + "/scans",
    ],
)
async def test_ids_beyond_any_row_close_with_not_found(operator_user: Any, path: str) -> None:
    assert await _refused(path, operator_user) == 4404
