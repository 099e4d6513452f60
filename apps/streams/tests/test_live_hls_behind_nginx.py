"""Live HLS behind a real nginx, configured as the README's "Serving live HLS" shows:
CastCore checks access and rewrites playlists, nginx sends the segments (X-Accel-Redirect)."""

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

from apps.streams.live import viewers, viewing
from apps.streams.live.paths import live_root
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    write_static_hls,
)
from workers.ffmpeg.tests.rtmp_server import NGINX, free_port, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http on loopback)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _nginx_config(tmp: Path, port: int, upstream: str, live_folder: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{name}_temp_path {tmp}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nmaster_process off;\npid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n  {temp}\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port};\n"
        # The README's two locations.
        f"    location /_live/ {{ internal; alias {live_folder}/; }}\n"
        "    location / {\n"
        f"      proxy_pass {upstream};\n"
        "      proxy_set_header Host $http_host;\n"
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


@pytest.fixture
def nginx_in_front(
    live_server: Any, settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if not shutil.which(NGINX):
        pytest.skip("nginx is not installed")
    settings.LIVE_X_ACCEL_REDIRECT_PREFIX = "/_live/"  # the live server runs in this process
    folder = live_root()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("nginx-live")
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_nginx_config(tmp, port, live_server.url, folder.resolve()))
    base = [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_behind_nginx_castcore_says_who_and_nginx_sends_the_segment(
    nginx_in_front: str, live_server: Any
) -> None:
    stream = a_live_stream(visibility="public")
    root = write_static_hls(stream)
    segment = f"/live/{stream.slug}/v0/seg00007.ts"

    status, headers, body = _get(live_server.url + segment)
    assert status == 200 and body == b""
    assert headers["X-Accel-Redirect"] == f"/_live/{stream.pk}/v0/seg00007.ts"

    status, headers, body = _get(nginx_in_front + segment, Range="bytes=1-4")
    assert status == 206 and body == (root / "v0" / "seg00007.ts").read_bytes()[1:5]
    status, headers, body = _get(nginx_in_front + segment)
    assert status == 200 and body == (root / "v0" / "seg00007.ts").read_bytes()
    assert headers["Content-Type"] == "video/mp2t"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "X-Accel-Redirect" not in headers
    # The internal location is not reachable from outside.
    assert _get(f"{nginx_in_front}/_live/{stream.pk}/v0/seg00007.ts")[0] == 404
    # Counted by the address nginx forwards (CASTCORE_TRUSTED_PROXIES trusts it in real use).
    assert viewers.viewer_count(stream.pk) == 1


def test_behind_nginx_a_private_streams_segments_need_the_ticket_the_playlists_carry(
    nginx_in_front: str,
) -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    ticket = viewing.watch_ticket(stream)
    base = f"{nginx_in_front}/live/{stream.slug}"

    assert _get(f"{base}/index.m3u8")[0] == 404
    assert _get(f"{base}/v0/seg00007.ts")[0] == 404
    status, headers, master = _get(f"{base}/index.m3u8?t={ticket}")
    assert status == 200 and headers["Cache-Control"] == "private, no-cache"
    variant_uri = master.decode().splitlines()[-1]
    status, _, variant = _get(f"{base}/{variant_uri}")
    assert status == 200
    segment_uri = variant.decode().splitlines()[-1]
    status, headers, body = _get(f"{base}/v0/{segment_uri}")
    assert status == 200 and len(body) == 188
    assert headers["Cache-Control"] == "private, max-age=31536000, immutable"
