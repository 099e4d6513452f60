"""castcore.files.send_file, the one way CastCore hands out a file: its HTTP rules.

Called as a view calls it, on a real file; the apps' tests check the same rules
through their URLs (apps/media/tests/test_media_files.py,
apps/recordings/tests/test_file_download.py).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from castcore.files import CHUNK, send_file
from castcore.tests.responses import body_of

DATA = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    path = tmp_path / "clip.bin"
    path.write_bytes(DATA)
    return path


def _send(path: Path, method: str = "GET", **headers: Any) -> Any:
    request = RequestFactory().generic(method, "/file", **headers)
    return send_file(request, path, content_type="application/octet-stream", etag='"v1"')


def test_a_range_past_the_end_is_416_with_the_size(stored: Path) -> None:
    response = _send(stored, HTTP_RANGE=f"bytes={len(DATA)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert _send(stored, HTTP_RANGE="bytes=-0").status_code == 416


def test_a_suffix_range_is_the_last_bytes_and_a_long_one_all_of_them(stored: Path) -> None:
    last = _send(stored, HTTP_RANGE="bytes=-100")
    assert last.status_code == 206 and body_of(last) == DATA[-100:]
    assert last["Content-Range"] == f"bytes {len(DATA) - 100}-{len(DATA) - 1}/{len(DATA)}"
    everything = _send(stored, HTTP_RANGE=f"bytes=-{len(DATA) * 2}")
    assert everything.status_code == 206 and body_of(everything) == DATA


def test_numbers_longer_than_any_file_are_no_500(stored: Path) -> None:
    huge = "9" * 5000  # int() refuses it
    assert _send(stored, HTTP_RANGE=f"bytes={huge}-").status_code == 416
    to_the_end = _send(stored, HTTP_RANGE=f"bytes=10-{huge}")
    assert to_the_end.status_code == 206 and body_of(to_the_end) == DATA[10:]
    assert body_of(_send(stored, HTTP_RANGE=f"bytes=-{huge}")) == DATA


def test_a_malformed_or_multiple_range_gets_the_whole_file(stored: Path) -> None:
    for header in ("bytes=0-1,4-5", "lines=1-2", "bytes=9-3", "bytes=-"):
        response = _send(stored, HTTP_RANGE=header)
        assert response.status_code == 200 and body_of(response) == DATA, header


def test_if_range_with_the_etag_or_a_date_not_older_keeps_the_range(stored: Path) -> None:
    mtime = os.stat(stored).st_mtime
    for validator in ('"v1"', formatdate(mtime + 60, usegmt=True)):
        response = _send(stored, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=validator)
        assert response.status_code == 206 and body_of(response) == DATA[:4], validator


def test_if_range_naming_another_version_gets_the_whole_file(stored: Path) -> None:
    mtime = os.stat(stored).st_mtime
    for validator in ('"v0"', 'W/"v1"', formatdate(mtime - 60, usegmt=True), "yesterday"):
        response = _send(stored, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=validator)
        assert response.status_code == 200 and body_of(response) == DATA, validator
    # Even a range past the end: the Range header no longer counts.
    stale = _send(stored, HTTP_RANGE=f"bytes={len(DATA)}-", HTTP_IF_RANGE='"v0"')
    assert stale.status_code == 200


def test_if_none_match_with_the_tag_among_others_or_weak_is_304(stored: Path) -> None:
    for header in ('"v1"', '"v0", "v1"', 'W/"v1"', "*"):
        response = _send(stored, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304 and response["ETag"] == '"v1"', header
        assert response.content == b""
    assert _send(stored, HTTP_IF_NONE_MATCH='"v0"').status_code == 200


def test_head_has_the_headers_of_a_whole_get_even_with_a_range(stored: Path) -> None:
    response = _send(stored, "HEAD", HTTP_RANGE="bytes=0-3")
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes" and response["ETag"] == '"v1"'
    assert response["Last-Modified"]


def test_content_disposition_names_the_file_inline_or_as_an_attachment(stored: Path) -> None:
    request = RequestFactory().get("/file")
    shown = send_file(request, stored, content_type="text/plain", etag='"v1"', filename="clip.bin")
    assert shown["Content-Disposition"] == 'inline; filename="clip.bin"'
    download = send_file(
        request, stored, content_type="text/plain", etag='"v1"', filename='a "b".txt',
        attachment=True,
    )  # fmt: skip
    assert download["Content-Disposition"] == r'attachment; filename="a \"b\".txt"'
    plain = send_file(request, stored, content_type="text/plain", etag='"v1"')
    assert "Content-Disposition" not in plain


def test_the_etag_can_be_made_from_the_files_stat(stored: Path) -> None:
    response = send_file(
        RequestFactory().get("/file"),
        stored,
        content_type="text/plain",
        etag=lambda info: f'"{info.st_size:x}"',
    )
    assert response["ETag"] == f'"{len(DATA):x}"'


def test_a_missing_file_or_a_folder_is_a_404(stored: Path) -> None:
    assert _send(stored.parent / "gone.bin").status_code == 404
    assert _send(stored.parent).status_code == 404


def test_with_x_accel_redirect_only_files_under_the_media_root_go_to_nginx(
    stored: Path, tmp_path: Path, settings: Any
) -> None:
    settings.X_ACCEL_REDIRECT_PREFIX = "/_media/"
    settings.MEDIA_ROOT = tmp_path / "media"
    media = tmp_path / "media" / "recordings" / "a b.cast"
    media.parent.mkdir(parents=True)
    media.write_bytes(DATA)
    handed = _send(media, HTTP_RANGE="bytes=0-3")
    assert handed.status_code == 200 and body_of(handed) == b""
    assert handed["X-Accel-Redirect"] == "/_media/recordings/a%20b.cast"
    outside = _send(stored, HTTP_RANGE="bytes=0-3")
    assert "X-Accel-Redirect" not in outside and body_of(outside) == DATA[:4]


def _handles_on(path: Path) -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:
            continue  # the listing's own descriptor, closed meanwhile
    return count


def test_under_asgi_a_read_cancelled_when_the_client_leaves_closes_the_file(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(CHUNK * 128))
    scope = {
        "type": "http", "method": "GET", "path": "/file", "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }  # fmt: skip
    request = ASGIRequest(scope, io.BytesIO())
    response: Any = send_file(request, big, content_type="video/mp4", etag='"b"')
    assert _handles_on(big) == 1  # opened when the view ran

    async def read_until_cancelled() -> None:
        first = asyncio.Event()

        async def read() -> None:
            async for _ in response.streaming_content:
                first.set()  # then straight back to waiting for the next read

        task = asyncio.ensure_future(read())
        await first.wait()
        # What Django does when the client disconnects; it does not close the response.
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(read_until_cancelled())
    # The response is still referenced: only send_file's own close can have closed it,
    # on the read thread once the read under way is done.
    deadline = time.monotonic() + 10
    while _handles_on(big) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _handles_on(big) == 0
    assert response.streaming  # and referenced until after the check
