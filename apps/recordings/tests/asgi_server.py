"""A real CastCore ASGI server (`python -m castcore.serve`, i.e. daphne) in a subprocess.

It shares the pytest test database (PostgreSQL) and the Redis channel layer
with the test process, so sockets and pages go through daphne and Redis as in
production. Use it with `transactional_db`: rows must be committed to be seen.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from castcore.tests.test_run_modes import SERVER_START_S

REPO = Path(__file__).resolve().parents[3]


@dataclass
class AsgiServer:
    url: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{quote(db['USER'], safe='')}{password}@{host}:{port}/{db['NAME']}"


def _wait_until_serving(server: AsgiServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the ASGI server exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/explore", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the ASGI server did not answer within {SERVER_START_S:.0f} s:\n{server.log()}")


@pytest.fixture
def asgi_server(transactional_db: None, tmp_path: Path) -> Iterator[AsgiServer]:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "needs DATABASE_URL (PostgreSQL) and REDIS_URL: the server subprocess must share"
            " the test database and the channel layer, which SQLite in memory and the"
            " in-memory layer cannot"
        )
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",  # no embedded worker
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CASTCORE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "true",  # static files from the finders: no collectstatic needed
        "PYTHONUNBUFFERED": "1",
    }
    server = AsgiServer(url=f"http://127.0.0.1:{port}", log_path=tmp_path / "asgi-server.log")
    with server.log_path.open("wb") as log:
        # The same command line as the Dockerfile's, with its default access log.
        process = subprocess.Popen(
            [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
             "castcore.asgi:application"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_serving(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
