"""What a test needs to start a real Celery worker process on its own test database."""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import pytest
from django.db import connection
from kombu.simple import SimpleQueue

from castcore.celery import app


def ffmpeg_worker_env(settings: Any) -> dict[str, str]:
    """The environment of a worker on the ffmpeg queue that sees this test's database,
    keys, run folders and media; the queue emptied of other tests' messages.

    Skips the test without PostgreSQL and Redis: a worker in another process cannot
    share SQLite's in-memory test database or the in-memory channel layer.
    """
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        pytest.skip(
            "a separate worker process needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)"
        )
    assert connection.vendor == "postgresql"
    # The worker must see the test database, not the development one.
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    test_db = url._replace(path="/" + str(connection.settings_dict["NAME"])).geturl()
    with app.connection_for_write() as conn:
        SimpleQueue(conn, "ffmpeg").clear()  # stale messages from other tests
    return {
        **os.environ,
        "DATABASE_URL": test_db,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",
        "CASTCORE_FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        # This host's run folders and media, where the test looks for them.
        "CASTCORE_VAR_DIR": str(settings.VAR_DIR),
        "CASTCORE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,
    }
