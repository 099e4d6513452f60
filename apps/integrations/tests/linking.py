"""Linking an account through the API against the stand-in platform, as a browser would."""

from __future__ import annotations

import urllib.parse
from typing import Any

from rest_framework.test import APIClient

from apps.integrations.tests.platform_server import Platform


def start(api: APIClient, kind: str = "youtube", **query: Any) -> str:
    response = api.get(f"/api/v1/platforms/{kind}/oauth/start", query)
    assert response.status_code == 302, response.content
    return str(response["Location"])


def callback(api: APIClient, callback_url: str) -> Any:
    parts = urllib.parse.urlsplit(callback_url)
    return api.get(parts.path, dict(urllib.parse.parse_qsl(parts.query)))


def link(api: APIClient, platform: Platform, kind: str = "youtube") -> dict[str, Any]:
    response = callback(api, platform.authorize(start(api, kind, name="Main")))
    assert response.status_code == 200, response.json()
    return dict(response.json())
