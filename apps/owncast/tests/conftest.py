"""Fixtures of the Owncast API tests: two live streams side by side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.chat import selectors as chat_selectors

# The live tests' ingest (nginx-rtmp with callbacks to a live server), for the live status.
from apps.streams.live.tests.conftest import (  # noqa: F401
    _fast_runtime,
    _tmp_roots,
    ingest,
    ingest_ports,
)
from apps.streams.live.tests.factories import live_stream


@pytest.fixture(autouse=True)
def _fresh_send_rules() -> Iterator[None]:
    chat_selectors.forget_send_rules()
    yield
    chat_selectors.forget_send_rules()


@pytest.fixture
def streams(operator_user: Any) -> dict[str, Any]:
    """Two public streams, `red` and `blue`, with their ingest keys."""
    red, red_key = live_stream(operator_user, name="Red", slug="red", title="Red title")
    blue, blue_key = live_stream(operator_user, name="Blue", slug="blue", title="Blue title")
    return {"red": red, "red_key": red_key, "blue": blue, "blue_key": blue_key}
