"""Fixtures of the chat tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.chat import ratelimit, selectors


@pytest.fixture(autouse=True)
def _fresh_send_rules() -> Iterator[None]:
    # Stream ids come back after a test's rows are flushed: no test sees another's rules.
    selectors.forget_send_rules()
    ratelimit.forget()
    yield
    selectors.forget_send_rules()
