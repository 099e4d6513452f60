"""CastCore's production web server (`python -m castcore.serve`, i.e. daphne) in a
subprocess, on the test database, for what only a real HTTP server shows: a response
that streams for as long as the client reads, and what happens when it leaves.

Unlike apps/recordings/tests/asgi_server.py it runs on SQLite too: the SQLite test
database is a file (castcore/settings_test.py), which the server opens by path. It
serves the test's VAR_DIR, where the channel's HLS is written. Use it with
`django_db(transaction=True)`: rows must be committed to be seen.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

#: A loaded machine (two cores, other test workers) can take this long to import Django.
SERVER_START_S = 120.0
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Served:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{quote(db['USER'], safe='')}{password}@{host}:{port}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def castcore_server(log_dir: Path, **environ: str) -> Iterator[Served]:
    """The server on a free loopback port, until the block ends; `environ` adds settings."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",  # no embedded worker
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL or "",
        "CASTCORE_VAR_DIR": str(settings.VAR_DIR),
        # The test process's own keys: both read the same rows.
        "SECRET_KEY": settings.SECRET_KEY,
        "CASTCORE_FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "PYTHONUNBUFFERED": "1",
        **environ,
    }
    env.pop("SECRET_KEY_FILE", None)
    env.pop("CASTCORE_VAR_DIR_FILE", None)
    served = Served(url=f"http://127.0.0.1:{port}", log_path=log_dir / "castcore-serve.log")
    with served.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
             "castcore.asgi:application"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_serving(served, process)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(served: Served, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{served.log()}")
        try:
            with urllib.request.urlopen(f"{served.url}/discover.json", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer within {SERVER_START_S:.0f} s")
