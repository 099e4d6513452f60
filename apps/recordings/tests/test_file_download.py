"""Recording files over HTTP: 200, 206 ranges, 416, If-Range, ETag; visibility on file URLs."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.handlers.asgi import ASGIHandler
from django.test import Client
from rest_framework.test import APIClient

from apps.recordings.tests.factories import CAST_V2, a_recording, a_video
from castcore.tests.responses import body_of as content

pytestmark = pytest.mark.django_db


def test_the_api_serves_the_whole_file(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file")
    assert response.status_code == 200 and content(response) == CAST_V2
    assert response["Accept-Ranges"] == "bytes" and response["ETag"]
    assert response["Content-Disposition"].startswith("attachment")


def test_a_range_is_a_206_with_content_range(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE="bytes=2-9")
    assert response.status_code == 206
    assert content(response) == CAST_V2[2:10]
    assert (
        response["Content-Range"] == f"bytes 2-9/{len(CAST_V2)}"
        and response["Content-Length"] == "8"
    )
    suffix = viewer_api.get(f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE="bytes=-5")
    assert content(suffix) == CAST_V2[-5:]
    open_ended = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=10-")
    assert open_ended.status_code == 206 and content(open_ended) == CAST_V2[10:]


def test_an_unsatisfiable_range_is_416(viewer_api: APIClient) -> None:
    recording = a_recording()
    response = viewer_api.get(
        f"/api/v1/recordings/{recording.pk}/file", HTTP_RANGE=f"bytes={len(CAST_V2)}-"
    )
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(CAST_V2)}"


def test_if_range_with_a_stale_etag_gets_the_whole_file() -> None:
    recording = a_recording()
    etag = Client().get(f"/r/{recording.pk}.cast")["ETag"]
    fresh = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=etag)
    stale = Client().get(f"/r/{recording.pk}.cast", HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"old"')
    assert fresh.status_code == 206 and stale.status_code == 200
    assert Client().get(f"/r/{recording.pk}.cast", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_file_urls_follow_visibility() -> None:
    unlisted = a_recording(visibility="unlisted")
    private = a_recording(visibility="private")
    assert Client().get(f"/r/{unlisted.pk}.cast").status_code == 404
    assert Client().get(f"/r/{unlisted.url_token}.cast").status_code == 200
    assert Client().get(f"/r/{private.url_token}.cast").status_code == 404
    owner = Client()
    owner.force_login(private.owner)
    assert owner.get(f"/r/{private.url_token}.cast").status_code == 200


def test_head_has_the_headers_of_a_get_and_no_body() -> None:
    recording = a_recording()
    response = Client().head(f"/r/{recording.pk}.cast")
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Length"] == str(len(CAST_V2)) and response["ETag"]


async def _serve_over_asgi(
    path: str, on_headers: Callable[[], None] = lambda: None
) -> tuple[int, bytes, list[int]]:
    """GET `path` through Django's ASGI handler, as daphne hands requests to it.

    Returns the status, the first bytes of the body and the size of each body message
    (not the body itself, which would be in memory all at once here). `on_headers`
    runs once the headers are out.
    """
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    requested = False
    status, head, sizes = 0, b"", []

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away
        raise AssertionError("unreachable")

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status, head
        if message["type"] == "http.response.start":
            status = message["status"]
            on_headers()
        elif message.get("body"):
            head = head or message["body"][:16]
            sizes.append(len(message["body"]))

    await ASGIHandler()(scope, receive, send)
    return status, head, sizes


@pytest.mark.django_db(transaction=True)
def test_a_big_file_goes_out_as_it_is_read_not_read_into_memory_first(
    settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    size = 16 * 1024 * 1024
    recording = a_video(
        visibility="public", size=size,
        file=ContentFile(bytes(range(256)) * (size // 256), name="recordings/video/big.mp4"),
    )  # fmt: skip

    path = f"/r/{recording.pk}.mp4"
    # Once untraced: what a first request imports and caches stays, and is not the file.
    asyncio.run(_serve_over_asgi(path))
    tracemalloc.start()
    try:
        status, head, sizes = asyncio.run(_serve_over_asgi(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert status == 200 and sum(sizes) == size and len(sizes) > 100
    assert head == bytes(range(16))
    # Read into a list first (what Django does with a synchronous iterator under ASGI),
    # the whole file was in memory at once.
    assert peak < size // 8, f"{peak} bytes in memory at once while serving {size}"


@pytest.mark.django_db(transaction=True)
def test_a_recording_deleted_once_its_headers_are_out_still_arrives_whole(
    settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    size = 1024 * 1024
    recording = a_video(
        visibility="public", size=size,
        file=ContentFile(bytes(range(256)) * (size // 256), name="recordings/video/gone.mp4"),
    )  # fmt: skip
    path = Path(recording.file.path)

    status, head, sizes = asyncio.run(_serve_over_asgi(f"/r/{recording.pk}.mp4", path.unlink))

    assert not path.exists()
    assert status == 200 and sum(sizes) == size and head == bytes(range(16))


@pytest.mark.django_db(transaction=True)
def test_a_recording_cut_short_once_its_headers_are_out_ends_early_without_an_error(
    settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.MEDIA_ROOT = tmp_path
    size = 1024 * 1024
    recording = a_video(
        visibility="public", size=size,
        file=ContentFile(bytes(size), name="recordings/video/short.mp4"),
    )  # fmt: skip
    path = Path(recording.file.path)

    status, _, sizes = asyncio.run(
        _serve_over_asgi(f"/r/{recording.pk}.mp4", lambda: os.truncate(path, size // 4))
    )

    assert status == 200 and sum(sizes) == size // 4
    assert "ended" in caplog.text and "bytes early" in caplog.text


def test_with_x_accel_redirect_nginx_sends_recording_files(
    viewer_api: APIClient, settings: Any, media_root: Path
) -> None:
    settings.X_ACCEL_REDIRECT_PREFIX = "/_media/"
    public = a_recording()
    page = Client().get(f"/r/{public.pk}.cast")
    assert page.status_code == 200 and content(page) == b""
    assert page["X-Accel-Redirect"] == f"/_media/{public.file.name}"
    assert page["Content-Type"] == "application/x-asciicast"
    assert page["Content-Disposition"] == f'inline; filename="{public.pk}.cast"'
    download = viewer_api.get(f"/api/v1/recordings/{public.pk}/file")
    assert download["X-Accel-Redirect"] == f"/_media/{public.file.name}"
    assert download["Content-Disposition"].startswith("attachment")

    # Access is still CastCore's to decide; what nginx cannot know travels in headers.
    private = a_recording(visibility="private")
    assert Client().get(f"/r/{private.url_token}.cast").status_code == 404
    owner = Client()
    owner.force_login(private.owner)
    mine = owner.get(f"/r/{private.url_token}.cast")
    assert mine["X-Accel-Redirect"] == f"/_media/{private.file.name}"
    assert mine["Cache-Control"] == "private, no-store" and mine["X-Robots-Tag"] == "noindex"


def test_if_none_match_with_the_recordings_tag_among_others_is_304() -> None:
    recording = a_recording()
    etag = Client().get(f"/r/{recording.pk}.cast")["ETag"]
    response = Client().get(f"/r/{recording.pk}.cast", HTTP_IF_NONE_MATCH=f'"other", {etag}')
    assert response.status_code == 304 and response["ETag"] == etag


def test_whoever_opens_an_unlisted_recording_by_its_token_can_download_it(
    viewer_api: APIClient,
) -> None:
    recording = a_recording(visibility="unlisted")  # someone else's
    detail = viewer_api.get(f"/api/v1/recordings/{recording.url_token}").json()
    download = viewer_api.get(detail["download_url"].removeprefix("http://testserver"))
    assert download.status_code == 200 and content(download) == CAST_V2
    # The id alone still opens nothing of someone else's unlisted recording.
    assert viewer_api.get(f"/api/v1/recordings/{recording.pk}/file").status_code == 404
