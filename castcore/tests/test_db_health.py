"""A kept PostgreSQL connection is checked without a query (castcore/db/health.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    """A connection of its own, to watch and end the backend of Django's."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run by .ci/run")
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as conn:
        yield conn


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _last_query(admin: psycopg.Connection[Any], pid: int) -> str:
    row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def _gone(admin: psycopg.Connection[Any], pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() is None:
            return True
        time.sleep(0.02)
    return False


def test_a_sound_connection_is_checked_without_a_query(admin: psycopg.Connection[Any]) -> None:
    pid = _backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    assert connection.is_usable()
    # Django's own check would have been the backend's last query.
    assert _last_query(admin, pid) == "SELECT 'the last query'"


def test_a_connection_the_server_closed_is_replaced(admin: psycopg.Connection[Any]) -> None:
    pid = _backend_pid()
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert _gone(admin, pid)
    assert not connection.is_usable()
    # What Django does when a request or task begins (the test settings' CONN_MAX_AGE
    # of 0 aside, which would close any connection): its first query then checks the
    # connection (CONN_HEALTH_CHECKS), and opens a new one in its place.
    connection.close_at = None
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is not None
    assert _backend_pid() != pid


def test_a_connection_the_server_wrote_to_while_idle_is_not_reused(
    admin: psycopg.Connection[Any],
) -> None:
    # CastCore never listens; anything that arrives on an idle connection is not ours to
    # read, so the connection is not trusted.
    with connection.cursor() as cursor:
        cursor.execute("LISTEN castcore_health_test")
    try:
        admin.execute("NOTIFY castcore_health_test")
        deadline = time.monotonic() + 10
        while connection.is_usable() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not connection.is_usable()
    finally:
        connection.close()  # it is still listening
