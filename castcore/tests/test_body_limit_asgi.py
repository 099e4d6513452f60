"""Body limits in the ASGI application itself (castcore/bodies.py), under any server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import override_settings

from apps.media import conf as media_conf
from apps.media.uploads import FORM_OVERHEAD
from apps.recordings import conf as recordings_conf
from castcore.asgi import application
from castcore.bodies import limit_for
from castcore.tests.asgi_http import http_scope, json_answer

KIB = 1024
LIMIT = 64 * KIB
BEARER = (b"authorization", b"Bearer cc_not-checked-here")


def _too_large(limit: int) -> dict[str, Any]:
    return {
        "error": {"code": "request.too_large", "params": {"limit_bytes": limit}, "level": "error"}
    }


def test_upload_routes_have_their_own_limits_and_the_rest_the_default() -> None:
    recording_limit = recordings_conf.MAX_UPLOAD_BYTES + 64 * KIB
    asset_limit = max(media_conf.ASSET_MAX_IMAGE_BYTES, media_conf.ASSET_MAX_VIDEO_BYTES)
    assert limit_for("/api/v1/assets", [BEARER]) == asset_limit + FORM_OVERHEAD
    assert limit_for("/api/v1/recordings", [BEARER]) == recording_limit
    assert limit_for("/api/asciicasts", [BEARER]) == recording_limit
    with override_settings(REQUEST_BODY_MAX_BYTES=LIMIT):
        assert limit_for("/api/v1/auth/login", [BEARER]) == LIMIT
        assert limit_for("/api/v1/no-such-route", [BEARER]) == LIMIT
        assert limit_for("/nothing/at/all", [BEARER]) == LIMIT


@override_settings(REQUEST_BODY_MAX_BYTES=LIMIT)
def test_a_request_without_credentials_gets_the_default_limit_on_an_upload_route() -> None:
    asset_limit = max(media_conf.ASSET_MAX_IMAGE_BYTES, media_conf.ASSET_MAX_VIDEO_BYTES)
    basic = (b"Authorization", b"Basic Y2xpOjEyMzQ=")  # asciinema's install id
    for path in ("/api/v1/assets", "/api/v1/recordings", "/api/asciicasts"):
        assert limit_for(path, []) == LIMIT
        assert limit_for(path, [(b"cookie", b"csrftoken=abc; theme=dark")]) == LIMIT
        assert limit_for(path, [(b"authorization", b"  ")]) == LIMIT
        assert limit_for(path, [basic]) > LIMIT
    assert limit_for("/api/v1/assets", [(b"cookie", b"theme=dark; sessionid=abc")]) == (
        asset_limit + FORM_OVERHEAD
    )
    with override_settings(SESSION_COOKIE_NAME="cc_session"):
        assert limit_for("/api/v1/assets", [(b"cookie", b"sessionid=abc")]) == LIMIT
        assert limit_for("/api/v1/assets", [(b"cookie", b"cc_session=abc")]) > LIMIT


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(REQUEST_BODY_MAX_BYTES=LIMIT)
async def test_an_upload_with_credentials_over_the_default_limit_reaches_the_view() -> None:
    headers = [BEARER, (b"content-length", str(LIMIT + KIB).encode())]
    communicator = ApplicationCommunicator(application, http_scope("/api/v1/assets", *headers))
    await communicator.send_input({"type": "http.request", "body": bytes(LIMIT + KIB)})
    status, body = await json_answer(communicator)
    # The view checked the token: not the body limit's business.
    assert (status, body["error"]["code"]) == (401, "auth.token_invalid")
    await communicator.wait(timeout=5)


# A small-body route, and an upload route whose own limit an anonymous client does not get.
OVER_THE_DEFAULT = ["/api/v1/no-such-route", "/api/v1/assets"]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", OVER_THE_DEFAULT)
@override_settings(REQUEST_BODY_MAX_BYTES=LIMIT)
async def test_a_declared_length_over_the_limit_is_answered_413_unread(path: str) -> None:
    scope = http_scope(path, (b"content-length", str(50 * KIB * KIB).encode()))
    communicator = ApplicationCommunicator(application, scope)
    # No body is ever sent: the answer must not wait for one.
    assert await json_answer(communicator) == (413, _too_large(LIMIT))
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", OVER_THE_DEFAULT)
@override_settings(REQUEST_BODY_MAX_BYTES=LIMIT)
async def test_a_body_that_passes_the_limit_in_pieces_is_answered_413(path: str) -> None:
    communicator = ApplicationCommunicator(application, http_scope(path))
    piece = bytes(40 * KIB)
    await communicator.send_input({"type": "http.request", "body": piece, "more_body": True})
    await communicator.send_input({"type": "http.request", "body": piece, "more_body": True})
    assert await json_answer(communicator) == (413, _too_large(LIMIT))
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
@override_settings(REQUEST_BODY_MAX_BYTES=LIMIT)
async def test_a_body_within_the_limit_reaches_the_application() -> None:
    headers = [(b"content-length", str(LIMIT).encode()), (b"content-type", b"application/json")]
    communicator = ApplicationCommunicator(application, http_scope("/api/v1/auth/login", *headers))
    await communicator.send_input({"type": "http.request", "body": bytes(LIMIT)})
    status, body = await json_answer(communicator)
    # The login read it: zeros are no JSON.
    assert (status, body["error"]["code"]) == (400, "request.malformed")
    await communicator.wait(timeout=5)


def _open_deleted_files() -> list[Path]:
    """Files this process holds open that have no name any more: temp files."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.endswith(" (deleted)"):
            found.append(Path(target.removesuffix(" (deleted)")))
    return found


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_django_spools_a_large_body_under_the_apps_temp_folder(tmp_path: Path) -> None:
    piece = bytes(KIB * KIB)
    headers = [BEARER, (b"content-length", str(4 * len(piece)).encode())]
    with override_settings(FILE_UPLOAD_TEMP_DIR=str(tmp_path), FILE_UPLOAD_MAX_MEMORY_SIZE=KIB):
        communicator = ApplicationCommunicator(application, http_scope("/api/v1/assets", *headers))
        for _ in range(3):
            await communicator.send_input(
                {"type": "http.request", "body": piece, "more_body": True}
            )
        for _ in range(100):  # the handler reads them as the loop lets it
            spooled = [path for path in _open_deleted_files() if path.parent == tmp_path]
            if spooled:
                break
            await asyncio.sleep(0.05)
        assert len(spooled) == 1, _open_deleted_files()
        await communicator.send_input({"type": "http.request", "body": piece})
        status, body = await json_answer(communicator)
    assert (status, body["error"]["code"]) == (401, "auth.token_invalid")
    await communicator.wait(timeout=5)
