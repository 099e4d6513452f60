"""Fixtures of the integrations tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.integrations import conf
from apps.integrations.tests.platform_server import Platform, provider_settings, running_platform


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The stand-in platform, as YouTube's and Twitch's OAuth and API endpoints."""
    with running_platform() as stand_in:
        for name in ("youtube", "twitch"):
            monkeypatch.setitem(conf.PLATFORM_OAUTH, name, provider_settings(stand_in.url))
        yield stand_in


@pytest.fixture
def admin_browser(admin_user: Any) -> Client:
    """A browser signed in to the admin as the Admin."""
    client = Client()
    client.force_login(admin_user)
    return client
