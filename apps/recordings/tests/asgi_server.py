"""A real CastCore ASGI server (`python -m castcore.serve`, i.e. daphne) in a subprocess.

It shares the pytest test database (PostgreSQL) and the Redis channel layer
with the test process, so sockets and pages go through daphne and Redis as in
production. Use it with `transactional_db`: rows must be committed to be seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from castcore.tests.served import Served, castcore_server

AsgiServer = Served


@pytest.fixture
def asgi_server(transactional_db: None, tmp_path: Path) -> Iterator[AsgiServer]:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "needs DATABASE_URL (PostgreSQL) and REDIS_URL: the server subprocess must share"
            " the test database and the channel layer, which SQLite in memory and the"
            " in-memory layer cannot"
        )
    environ = {
        "REDIS_URL": settings.REDIS_URL,
        "CASTCORE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "true",  # static files from the finders: no collectstatic needed
    }
    with castcore_server(
        tmp_path / "asgi-server.log", ready_path="/explore", environ=environ
    ) as server:
        yield server
