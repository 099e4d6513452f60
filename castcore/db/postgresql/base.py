"""Django's PostgreSQL backend, with the health check of `castcore.db.health`."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from castcore.db.health import is_sound


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        return self.connection is not None and is_sound(self.connection)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = self.pool  # type: ignore[attr-defined]  # Django 5.1's, not in django-stubs
        if not pool:
            return connection
        # The pool's own check is an empty query, so settings.py turns it off (Django
        # passes it with CONN_HEALTH_CHECKS) and this one takes its place. A connection
        # that fails it is closed and given back: the pool opens another in its stead.
        # At most the whole pool can have been closed (a database restart); past that,
        # the connection's first query reports what is wrong.
        for _ in range(pool.max_size):
            if is_sound(connection):
                break
            connection.close()
            pool.putconn(connection)
            connection = super().get_new_connection(conn_params)
        return connection
