"""An S3 endpoint that redirects forever (a real HTTP server on loopback answering 301 or 307
to itself) gives a clear storage error, not a RecursionError from botocore and a 500."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apps.media.storage.base import S3Config, StorageError
from apps.media.storage.s3 import S3Backend
from apps.media.tests.factories import make_s3_source


class _RedirectToSelf(http.server.BaseHTTPRequestHandler):
    status = 301

    def _redirect(self) -> None:
        port = self.server.server_port  # type: ignore[attr-defined]
        self.send_response(self.status)
        self.send_header("Location", f"http://127.0.0.1:{port!s}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.asked += 1  # type: ignore[attr-defined]

    do_GET = do_HEAD = do_PUT = do_POST = _redirect

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=[301, 307])
def redirecting_endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """The base URL of a server that redirects every request to itself, and the server."""
    handler = type("Handler", (_RedirectToSelf,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.asked = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def backend(endpoint: str) -> S3Backend:
    config = S3Config(
        endpoint_url=endpoint,
        region="us-east-1",
        bucket="media",
        access_key="AKIAEXAMPLE",
        secret_key="s3-secret-key-abcdef",
    )
    return S3Backend(config, timeout=2.0)


def test_the_storage_test_reports_a_redirecting_endpoint_with_a_code(
    redirecting_endpoint: tuple[str, Any],
) -> None:
    endpoint, server = redirecting_endpoint
    results = backend(endpoint).test()
    assert [(r.name, r.ok, r.code) for r in results] == [
        ("reachable", True, None),
        ("credentials", False, "storage.redirected"),
        ("listable", False, None),
        ("readable", False, None),
    ]
    assert "s3-secret-key-abcdef" not in repr(results)
    assert server.asked <= 4  # the request, and botocore's one look for the region


def test_listing_and_opening_raise_a_storage_error_not_a_recursion_error(
    redirecting_endpoint: tuple[str, Any],
) -> None:
    endpoint, _ = redirecting_endpoint
    s3 = backend(endpoint)
    with pytest.raises(StorageError) as listing:
        list(s3.iter_files())
    with pytest.raises(StorageError) as opening:
        s3.open_for_ffmpeg("clips/a.mp4")
    assert listing.value.code == opening.value.code == "storage.redirected"
    assert "redirect" in opening.value.detail


@pytest.mark.django_db
def test_the_test_endpoint_answers_a_redirecting_s3_source_without_a_500(
    admin_api: Any, redirecting_endpoint: tuple[str, Any]
) -> None:
    source = make_s3_source(endpoint_url=redirecting_endpoint[0])
    response = admin_api.post(f"/api/v1/storage-sources/{source.pk}/test")
    assert response.status_code == 200, response.content
    credentials = response.json()["checks"][1]
    assert (credentials["ok"], credentials["code"]) == (False, "storage.redirected")
    assert "redirect" in credentials["explanation"]
