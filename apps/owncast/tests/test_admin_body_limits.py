"""Body limits on Owncast's routes: the logo setter takes a logo as large as the media app
does (base64, inside JSON) and a body over a route's limit is refused in Owncast's shape."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import override_settings

from apps.media.models import AssetKindChoice
from apps.media.services import asset_max_bytes
from apps.owncast.admin.config import LOGO_TEXT_LIMIT
from apps.owncast.tests.admin_client import basic
from apps.streams.live.models import LiveStream
from castcore.asgi import application
from castcore.bodies import default_limit, limit_for
from castcore.tests.asgi_http import http_scope, json_answer

KIB = 1024


def _headers(key: str, length: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(length).encode()),
        *[(name[5:].lower().encode(), value.encode()) for name, value in basic(key).items()],
    ]


async def _post(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, Any]:
    communicator = ApplicationCommunicator(application, http_scope(path, *headers))
    await communicator.send_input({"type": "http.request", "body": body})
    answer = await json_answer(communicator, timeout=60)
    await communicator.wait(timeout=10)
    return answer


def test_the_logo_setter_takes_a_body_as_large_as_a_logo_in_base64() -> None:
    auth = [(b"authorization", b"Basic YWRtaW46eA==")]
    logo_limit = limit_for("/owncast/red/api/admin/config/logo", auth)
    assert logo_limit == limit_for("/api/admin/config/logo", auth) == LOGO_TEXT_LIMIT + KIB
    assert LOGO_TEXT_LIMIT >= asset_max_bytes(AssetKindChoice.LOGO) * 4 // 3 > default_limit()
    # Every other setter keeps the default: their values are short.
    assert limit_for("/owncast/red/api/admin/config/name", auth) == default_limit()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_logo_over_the_default_body_limit_is_set(
    streams: dict[str, Any], tmp_path: Path
) -> None:
    png = tmp_path / "noise.png"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "nullsrc=s=640x640,geq=random(1)*255:random(2)*255:random(3)*255", "-frames:v", "1",
         str(png)],
        check=True, timeout=120,
    )  # fmt: skip
    uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    body = json.dumps({"value": uri}).encode()
    assert len(body) > default_limit()  # refused with the envelope before the fix
    status, answer = await _post(
        "/owncast/red/api/admin/config/logo", _headers(streams["red_key"], len(body)), body
    )
    assert (status, answer) == (200, {"success": True, "message": "changed"})
    stream = await LiveStream.objects.select_related("logo").aget(slug="red")
    assert stream.logo is not None and stream.logo.kind == "logo"


@pytest.mark.asyncio
@pytest.mark.parametrize("setting", ["logo", "name"])
@override_settings(REQUEST_BODY_MAX_BYTES=64 * KIB)
async def test_a_body_over_the_routes_limit_is_owncasts_413(setting: str) -> None:
    path = f"/owncast/red/api/admin/config/{setting}"
    limit = limit_for(path, [(b"authorization", b"Basic YWRtaW46eA==")])
    status, answer = await _post(path, _headers("x" * 20, limit + 1), b"")
    assert status == 413
    assert answer == {
        "success": False, "message": "request.too_large", "params": {"limit_bytes": limit}
    }  # fmt: skip
    # A native route keeps the native envelope.
    status, answer = await _post("/api/v1/live-streams", _headers("x" * 20, limit + 1), b"")
    assert status == 413 and answer["error"]["code"] == "request.too_large"
