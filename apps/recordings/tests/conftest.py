"""Fixtures of the recordings tests: files go to a temporary MEDIA_ROOT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def media_root(_media_root: Path) -> Path:
    return _media_root


@pytest.fixture
def cast_v2() -> bytes:
    return (DATA / "real-v2.cast").read_bytes()


# A real daphne subprocess on the test database and Redis (PostgreSQL + Redis runs only).
from apps.recordings.tests.asgi_server import asgi_server  # noqa: E402

__all__ = ["asgi_server", "cast_v2", "media_root"]
