"""GET /media/… (an asset's `url`): served with the API's access rules, or handed to nginx."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIHandler
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.media.models import Asset
from apps.media.tests.test_validation import _png

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset(operator_api: APIClient, media_dirs: Path) -> dict[str, Any]:
    response = operator_api.post(
        "/api/v1/assets",
        {"kind": "logo", "file": SimpleUploadedFile("logo.png", _png((40, 20)))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def _bytes(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _stored(media_dirs: Path, asset: dict[str, Any]) -> bytes:
    return (media_dirs / asset["url"].removeprefix("/media/")).read_bytes()


def test_an_assets_url_serves_its_file_to_a_viewer_with_a_token(
    viewer_api: APIClient, asset: dict[str, Any], media_dirs: Path
) -> None:
    response = viewer_api.get(asset["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert _bytes(response) == _stored(media_dirs, asset)
    assert response["Cache-Control"].startswith("private")
    assert response["ETag"] and response["Last-Modified"]


def test_an_assets_url_serves_a_viewer_signed_in_on_the_site(
    asset: dict[str, Any], media_dirs: Path
) -> None:
    browser = Client()
    viewer: Any = UserFactory(role=Role.VIEWER)
    browser.force_login(viewer)
    response = browser.get(asset["url"])
    assert response.status_code == 200 and _bytes(response) == _stored(media_dirs, asset)


def test_an_assets_url_refuses_anonymous_clients_as_the_api_does(
    api: APIClient, asset: dict[str, Any]
) -> None:
    assert api.get(f"/api/v1/assets/{asset['id']}").status_code == 401
    response = Client().get(asset["url"])
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"\x89PNG" not in response.content


def test_an_assets_url_refuses_a_bad_token(asset: dict[str, Any]) -> None:
    response = Client().get(asset["url"], HTTP_AUTHORIZATION="Bearer cc_not-a-token")
    assert response.status_code == 401


def test_an_inactive_account_gets_no_file(asset: dict[str, Any]) -> None:
    browser = Client()
    inactive: Any = UserFactory(role=Role.VIEWER, is_active=False)
    browser.force_login(inactive)
    assert browser.get(asset["url"]).status_code == 401


def test_conditional_and_range_requests(viewer_api: APIClient, asset: dict[str, Any]) -> None:
    first = viewer_api.get(asset["url"])
    cached = viewer_api.get(asset["url"], HTTP_IF_NONE_MATCH=first["ETag"])
    assert cached.status_code == 304
    part = viewer_api.get(asset["url"], HTTP_RANGE="bytes=0-7")
    assert part.status_code == 206
    assert _bytes(part) == b"\x89PNG\r\n\x1a\n"
    assert part["Content-Range"].startswith("bytes 0-7/")


def test_a_range_past_the_end_of_an_asset_is_416_and_a_stale_if_range_the_whole_file(
    viewer_api: APIClient, asset: dict[str, Any], media_dirs: Path
) -> None:
    stored = _stored(media_dirs, asset)
    beyond = viewer_api.get(asset["url"], HTTP_RANGE=f"bytes={len(stored)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(stored)}"
    stale = viewer_api.get(asset["url"], HTTP_RANGE="bytes=0-7", HTTP_IF_RANGE='"not-this"')
    assert stale.status_code == 200 and _bytes(stale) == stored


def test_only_files_an_asset_names_are_served(
    viewer_api: APIClient, asset: dict[str, Any], media_dirs: Path
) -> None:
    (media_dirs / "thumbnails").mkdir(parents=True, exist_ok=True)
    (media_dirs / "thumbnails" / "secret.jpg").write_bytes(b"not for the web")
    for path in (
        "/media/thumbnails/secret.jpg",
        "/media/assets/no-such-file.png",
        "/media/assets/../thumbnails/secret.jpg",
        "/media/%2e%2e/castcore.sqlite3",
    ):
        response = viewer_api.get(path)
        assert response.status_code == 404, path
        assert b"not for the web" not in response.content


def test_a_deleted_assets_url_is_a_404(operator_api: APIClient, asset: dict[str, Any]) -> None:
    assert operator_api.delete(f"/api/v1/assets/{asset['id']}").status_code == 204
    assert operator_api.get(asset["url"]).status_code == 404


def test_with_x_accel_redirect_nginx_sends_the_bytes(
    viewer_api: APIClient, asset: dict[str, Any], settings: Any
) -> None:
    settings.X_ACCEL_REDIRECT_PREFIX = "/_media/"
    response = viewer_api.get(asset["url"])
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_media/" + asset["url"].removeprefix("/media/")
    assert response["Content-Type"] == "image/png"
    assert _bytes(response) == b""
    # Access is still CastCore's to decide.
    assert Client().get(asset["url"]).status_code == 401


async def _get_over_asgi(path: str, token: str) -> tuple[int, int, int]:
    """GET through Django's ASGI handler as daphne calls it: (status, bytes, body messages)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
    }  # fmt: skip
    requested = False
    status, total, messages = 0, 0, 0

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError("unreachable")

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status, total, messages
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message.get("body"):
            total += len(message["body"])
            messages += 1

    await ASGIHandler()(scope, receive, send)
    return status, total, messages


@pytest.mark.django_db(transaction=True)
def test_under_asgi_a_big_file_goes_out_as_it_is_read(media_dirs: Path) -> None:
    size = 16 * 1024 * 1024
    stored = media_dirs / "assets" / "big.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(bytes(range(256)) * (size // 256))
    Asset.objects.create(
        kind="intro", name="big", file="assets/big.mp4", mime="video/mp4", width=16,
        height=16, sha256="0" * 64, size=size,
    )  # fmt: skip
    viewer: Any = UserFactory(role=Role.VIEWER)
    token = str(RefreshToken.for_user(viewer).access_token)
    asyncio.run(_get_over_asgi("/media/assets/big.mp4", token))  # imports and caches, untraced
    tracemalloc.start()
    try:
        status, total, messages = asyncio.run(_get_over_asgi("/media/assets/big.mp4", token))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 200 and total == size and messages > 100
    # Django reads a synchronous iterator into a list under ASGI: the whole file at once.
    assert peak < size // 8, f"{peak} bytes in memory at once while serving {size}"
