"""CastCore's production web server (`python -m castcore.serve`, i.e. daphne) in a
subprocess, on the test database, for what only a real server shows: sockets and pages
through daphne, a response that streams for as long as the client reads.

The server reads the pytest test database by URL (a SQLite test database is a file,
castcore/settings_test.py; PostgreSQL's is named by the connection): use it with
`django_db(transaction=True)` or `transactional_db`, since rows must be committed to be
seen. Callers add what they share with it (the channel layer's Redis, VAR_DIR, keys).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from castcore.tests.test_run_modes import SERVER_START_S, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def shared_database_url() -> str:
    """The URL of the database this test process uses, for a server to open the same."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{quote(db['USER'], safe='')}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def castcore_server(
    log_path: Path, *, ready_path: str, environ: Mapping[str, str | None]
) -> Iterator[Served]:
    """The server on a free loopback port until the block ends, once `ready_path` answers
    200. `environ` adds settings to this process's environment (None removes one)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",  # no embedded worker
        "DATABASE_URL": shared_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in environ.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    served = Served(url=f"http://127.0.0.1:{port}", log_path=log_path)
    with log_path.open("wb") as log:
        # The same command line as the Dockerfile's, with its default access log.
        process = subprocess.Popen(
            [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
             "castcore.asgi:application"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_serving(served, process, ready_path)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(served: Served, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{served.log()}")
        try:
            with urllib.request.urlopen(f"{served.url}{path}", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(
        f"the server did not answer within {SERVER_START_S:.0f} s:\n{served.log()}"
    )
