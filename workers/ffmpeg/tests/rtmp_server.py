"""A real nginx-rtmp server on loopback for tests, with an on_publish key check.

Usage from a test module::

    from workers.ffmpeg.tests.rtmp_server import RtmpServer, rtmp_server_fixture  # noqa: F401

    def test_x(rtmp_server: RtmpServer) -> None:
        url = rtmp_server.publish_url("goodkey")

nginx runs in the foreground (`daemon off; master_process off;`) so the test
owns exactly one process and can kill it by pid. The `on_publish` callback is
served by a tiny http.server thread that accepts the keys in `allowed_keys` and
answers 403 otherwise, which is how a real ingest rejects a stream key.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@dataclass
class RtmpServer:
    port: int
    auth_port: int
    allowed_keys: set[str]
    publish_attempts: list[str] = field(default_factory=list)

    def publish_url(self, key: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.port}/{app}/{key}"

    @property
    def app_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live"


def _auth_handler(server: RtmpServer) -> type[http.server.BaseHTTPRequestHandler]:
    class AuthHandler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            key = form.get("name", [""])[0]
            server.publish_attempts.append(key)
            self.send_response(200 if key in server.allowed_keys else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            # Keep pytest output quiet; attempts are recorded above.
            pass

    return AuthHandler


def _config(tmp: Path, port: int, auth_port: int) -> str:
    # master_process off: no workers, so `user` only matters if nginx forks;
    # we still set it as root because nginx refuses "nobody" paths otherwise.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"load_module {RTMP_MODULE};\n"
        f"{user}"
        "daemon off;\n"
        "master_process off;\n"
        f"pid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log info;\n"
        "events { worker_connections 64; }\n"
        "rtmp {\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port};\n"
        "    chunk_size 4096;\n"
        "    application live {\n"
        "      live on;\n"
        "      record off;\n"
        f"      on_publish http://127.0.0.1:{auth_port}/auth;\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def start_rtmp_server(
    tmp: Path, allowed_keys: set[str]
) -> tuple[RtmpServer, subprocess.Popen[bytes], http.server.HTTPServer]:
    if not (shutil.which(NGINX) and Path(RTMP_MODULE).exists()):
        pytest.skip("nginx with the rtmp module is not installed")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server = RtmpServer(
        port=free_port(), auth_port=int(httpd.server_address[1]), allowed_keys=allowed_keys
    )
    httpd.RequestHandlerClass = _auth_handler(server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    conf = tmp / "nginx.conf"
    conf.write_text(_config(tmp, server.port, server.auth_port))
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(server.port)
    except TimeoutError:
        proc.kill()
        proc.wait()
        httpd.shutdown()
        log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
        raise RuntimeError(f"nginx did not start: {log[-2000:]}") from None
    return server, proc, httpd


@pytest.fixture(name="rtmp_server")
def rtmp_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtmpServer]:
    tmp = tmp_path_factory.mktemp("nginx")
    server, proc, httpd = start_rtmp_server(tmp, {"goodkey", "otherkey"})
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        httpd.shutdown()
        httpd.server_close()
