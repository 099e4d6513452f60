"""CastCore's production web server in a subprocess (castcore.tests.served), for what
only a real HTTP server shows of a channel: a response that streams for as long as the
client reads, and what happens when it leaves.

Unlike apps/recordings/tests/asgi_server.py it runs on SQLite too: the SQLite test
database is a file, which the server opens by path. It serves the test's VAR_DIR, where
the channel's HLS is written. Use it with `django_db(transaction=True)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from castcore.tests.served import Served
from castcore.tests.served import castcore_server as served_castcore


@contextmanager
def castcore_server(log_dir: Path, **environ: str) -> Iterator[Served]:
    """The server on a free loopback port, until the block ends; `environ` adds settings."""
    shared: dict[str, str | None] = {
        "REDIS_URL": settings.REDIS_URL or "",
        "CASTCORE_VAR_DIR": str(settings.VAR_DIR),
        "CASTCORE_VAR_DIR_FILE": None,
        # The test process's own keys: both read the same rows.
        "SECRET_KEY": settings.SECRET_KEY,
        "SECRET_KEY_FILE": None,
        "CASTCORE_FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        **environ,
    }
    with served_castcore(
        log_dir / "castcore-serve.log", ready_path="/discover.json", environ=shared
    ) as served:
        yield served
