"""The folders and files CastCore manages itself: never a place a user may have written.

A stream job's file or HLS output pointed at an asset overwrote it while the database
kept its old checksum; the same output could overwrite a recording, a thumbnail, the
SQLite database or a key. Each app registers what it manages (`register` in its
AppConfig.ready); `managed_paths()` is what output checks refuse, whatever
CASTCORE_OUTPUT_ROOTS says (apps.streams.specs.target_policy).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

_registry: dict[str, Callable[[], Iterable[Path]]] = {}


def register(name: str, paths: Callable[[], Iterable[Path]]) -> None:
    """Make `paths()` (read when checked: tests move MEDIA_ROOT) managed, under `name`."""
    _registry[name] = paths


def _database() -> Iterable[Path]:
    for database in settings.DATABASES.values():
        name = str(database.get("NAME") or "")
        if "sqlite" in database["ENGINE"] and name and name != ":memory:":
            yield from (Path(name + suffix) for suffix in ("", "-wal", "-shm", "-journal"))


def _keys() -> Iterable[Path]:
    var = Path(settings.VAR_DIR)
    yield from (var / "secret_key", var / "fernet_key")
    # Secrets handed over as files (SECRET_KEY_FILE=/run/secrets/…).
    yield from (Path(value) for key, value in os.environ.items() if key.endswith("_FILE") and value)


register("database", _database)
register("keys", _keys)


def managed_paths() -> tuple[tuple[str, str], ...]:
    """(name, absolute path) of everything managed: "assets", "recordings", "keys"…"""
    return tuple(
        (name, str(path))
        for name, paths in _registry.items()
        for path in paths()
        if path.is_absolute()
    )
