"""Calls to a stream's Owncast admin API, as Owncast's own tests make them."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.test import Client


def basic(key: str, user: str = "admin") -> dict[str, Any]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


class Admin:
    """`/owncast/<slug>/api/admin/…` (or the root's `/api/admin/…`) with one credential."""

    def __init__(self, slug: str | None, headers: dict[str, Any]) -> None:
        self.base = f"/owncast/{slug}/api/admin/" if slug else "/api/admin/"
        self.headers = headers
        self.client = Client()

    def get(self, endpoint: str) -> Any:
        return self.client.get(self.base + endpoint, **self.headers)

    def post(self, endpoint: str, payload: Any) -> Any:
        return self.client.post(
            self.base + endpoint, json.dumps(payload), content_type="application/json",
            **self.headers,
        )  # fmt: skip

    def set(self, setting: str, value: Any) -> Any:
        """Owncast's sendConfigChangeRequest: `{"value": …}` to config/<setting>."""
        return self.post(f"config/{setting}", {"value": value})
