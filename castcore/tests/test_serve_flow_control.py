"""The web server holds a response while its client is not reading, instead of buffering it."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from castcore.tests.test_run_modes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def _serve(tmp_path: Path, **settings: str) -> tuple[subprocess.Popen[bytes], int]:
    """A real server (castcore.serve) for the streaming app; its output goes to server.log."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",
        "CASTCORE_VAR_DIR": str(tmp_path / "var"),
        **settings,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.tests.streaming_asgi_app:app"],
        cwd=ROOT, env=env, stdout=(tmp_path / "server.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise AssertionError("the server did not start")


def _read_response(sock: socket.socket, first: bytes = b"") -> tuple[bytes, int]:
    """(status line and headers, body length) of one response, read to its end."""
    data = first
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = int(
        next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length"))
    )
    received = len(body)
    while received < length:
        chunk = sock.recv(1024 * 1024)
        assert chunk, "the connection closed early"
        received += len(chunk)
    return head, received


def _serves_another_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /?mb=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _read_response(sock)[1] == MB


def _assert_quiet_log(tmp_path: Path) -> None:
    log = (tmp_path / "server.log").read_text()
    assert "Exception inside application" not in log and "Traceback" not in log, log[-2000:]


@pytest.mark.slow
def test_a_response_waits_for_a_client_that_is_not_reading(tmp_path: Path) -> None:
    server, port = _serve(tmp_path)
    try:
        process = psutil.Process(server.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /?mb=1 HTTP/1.1\r\nHost: t\r\n\r\n")  # warm up
            assert _read_response(sock)[1] == MB
            before = process.memory_info().rss

            sock.sendall(b"GET /?mb=64 HTTP/1.1\r\nHost: t\r\n\r\n")
            first = sock.recv(65536)
            # Without flow control, the app hands all 64 MB over within a fraction of this.
            grown = 0
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and grown < 32 * MB:
                time.sleep(0.1)
                grown = process.memory_info().rss - before
            assert grown < 16 * MB, f"the server holds {grown // MB} MB for a client not reading"

            head, length = _read_response(sock, first)
            assert head.startswith(b"HTTP/1.1 200") and length == 64 * MB
            # The same connection serves the next response (the first let go of its window).
            sock.sendall(b"GET /?mb=2 HTTP/1.1\r\nHost: t\r\n\r\n")
            assert _read_response(sock)[1] == 2 * MB
    finally:
        stop(server)
    assert server.returncode == 0


@pytest.mark.slow
def test_a_client_that_goes_away_mid_response_leaves_the_server_quiet_and_serving(
    tmp_path: Path,
) -> None:
    server, port = _serve(tmp_path)
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET /?mb=64 HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.recv(65536)
        time.sleep(0.5)  # the response is paused on the full socket by now
        # A reset, not a polite close: the connection is gone at once. The app, which
        # never listens for the disconnect, goes on sending to the end.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        time.sleep(1.0)
        _serves_another_connection(port)
    finally:
        stop(server)
    _assert_quiet_log(tmp_path)


@pytest.mark.slow
def test_a_client_that_takes_nothing_for_the_send_timeout_is_disconnected(tmp_path: Path) -> None:
    server, port = _serve(tmp_path, CASTCORE_SEND_TIMEOUT_SECONDS="1")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /?mb=64 HTTP/1.1\r\nHost: t\r\n\r\n")
            received = len(sock.recv(65536))
            time.sleep(3)  # past the timeout, reading nothing
            try:
                while chunk := sock.recv(1024 * 1024):  # what the kernel still holds
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < 64 * MB  # cut off, not served to the end
        _serves_another_connection(port)
    finally:
        stop(server)
    _assert_quiet_log(tmp_path)
