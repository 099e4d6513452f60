"""An asset's `url` through a real server (daphne via castcore.serve), and behind nginx.

The access rules hold over real HTTP; with CASTCORE_X_ACCEL_REDIRECT set, a real
nginx in front sends the bytes from the media root after CastCore said yes (assets
and recording files alike), which is the production setup the README shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.media.models import Asset
from apps.media.services import asset_upload
from apps.media.tests.test_validation import _png
from apps.recordings.tests.asgi_server import AsgiServer, asgi_server  # noqa: F401
from apps.recordings.tests.factories import CAST_V2, a_recording
from workers.ffmpeg.tests.rtmp_server import NGINX, free_port, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _get(url: str, token: str | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http on loopback)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def logo(media_dirs: Path) -> Asset:
    operator = UserFactory(role=Role.OPERATOR)
    return asset_upload(
        chunks=iter([_png((48, 24))]), declared_name="logo.png", kind="logo", actor=operator
    )


def _viewer_token() -> str:
    viewer: Any = UserFactory(role=Role.VIEWER)
    return str(RefreshToken.for_user(viewer).access_token)


def test_an_assets_url_is_served_by_the_real_server_with_the_api_access_rules(
    asgi_server: AsgiServer,  # noqa: F811
    logo: Asset,
) -> None:
    url = f"{asgi_server.url}/media/{logo.file.name}"
    status, _, body = _get(url)
    assert status == 401 and b"PNG" not in body
    status, headers, body = _get(url, token="not.a.jwt")
    assert status == 401
    status, headers, body = _get(url, token=_viewer_token())
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body == Path(logo.file.path).read_bytes()


def _nginx_config(tmp: Path, port: int, upstream: str, media_root: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{name}_temp_path {tmp}/{name};" for name in ("client_body", "proxy", "fastcgi")
    )
    return (
        f"{user}daemon off;\nmaster_process off;\npid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n  {temp}\n  uwsgi_temp_path {tmp}/uwsgi;"
        f" scgi_temp_path {tmp}/scgi;\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port};\n"
        # As in the README: only CastCore's answers can reach these files.
        f"    location /_media/ {{ internal; alias {media_root}/;\n"
        "      add_header X-Robots-Tag $upstream_http_x_robots_tag; }\n"
        "    location / {\n"
        f"      proxy_pass {upstream};\n"
        "      proxy_set_header Host $http_host;\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


@pytest.fixture
def nginx_in_front(
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    media_dirs: Path,
) -> Iterator[tuple[str, AsgiServer]]:
    if not shutil.which(NGINX):
        pytest.skip("nginx is not installed")
    # Read by the server process asgi_server starts (it copies this environment).
    monkeypatch.setenv("CASTCORE_X_ACCEL_REDIRECT", "/_media/")
    server: AsgiServer = request.getfixturevalue("asgi_server")
    tmp = tmp_path_factory.mktemp("nginx-media")
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_nginx_config(tmp, port, server.url, media_dirs.resolve()))
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_behind_nginx_castcore_checks_access_and_nginx_sends_the_file(
    nginx_in_front: tuple[str, AsgiServer], logo: Asset
) -> None:
    front, server = nginx_in_front
    token = _viewer_token()
    stored = Path(logo.file.path).read_bytes()

    # CastCore itself answers with the header only.
    status, headers, body = _get(f"{server.url}/media/{logo.file.name}", token=token)
    assert status == 200 and body == b""
    assert headers["X-Accel-Redirect"] == f"/_media/{logo.file.name}"

    # Through nginx: the bytes, for a viewer only.
    status, headers, body = _get(f"{front}/media/{logo.file.name}", token=token)
    assert status == 200, body[:200]
    assert body == stored and headers["Content-Type"] == "image/png"
    assert "X-Accel-Redirect" not in headers
    assert _get(f"{front}/media/{logo.file.name}")[0] == 401
    # The internal location is not reachable from outside.
    assert _get(f"{front}/_media/{logo.file.name}", token=token)[0] == 404


def test_behind_nginx_recording_files_are_sent_by_nginx_with_their_headers(
    nginx_in_front: tuple[str, AsgiServer],
) -> None:
    front, server = nginx_in_front
    public = a_recording()
    unlisted = a_recording(visibility="unlisted")

    status, headers, body = _get(f"{server.url}/r/{public.pk}.cast")
    assert status == 200 and body == b""
    assert headers["X-Accel-Redirect"] == f"/_media/{public.file.name}"

    status, headers, body = _get(f"{front}/r/{public.pk}.cast")
    assert status == 200 and body == CAST_V2, body[:200]
    assert "X-Accel-Redirect" not in headers
    # nginx knows no .cast type: the type, like the file name, is CastCore's.
    assert headers["Content-Type"] == "application/x-asciicast"
    assert headers["Content-Disposition"] == f'inline; filename="{public.pk}.cast"'
    status, headers, body = _get(f"{front}/r/{public.pk}.cast", Range="bytes=2-9")
    assert status == 206 and body == CAST_V2[2:10]

    # Visibility still decides, and what nginx cannot know travels with the answer.
    assert _get(f"{front}/r/{unlisted.pk}.cast")[0] == 404
    status, headers, body = _get(f"{front}/r/{unlisted.url_token}.cast")
    assert status == 200 and body == CAST_V2
    assert headers["X-Robots-Tag"] == "noindex"
    assert headers["Cache-Control"] == "private, no-store"
