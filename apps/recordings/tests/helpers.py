from __future__ import annotations

import base64
import uuid

from rest_framework.test import APIClient


def basic(install_id: str, user: str = "alice") -> str:
    return "Basic " + base64.b64encode(f"{user}:{install_id}".encode()).decode()


def cli_client(install_id: str | None = None) -> APIClient:
    """An API client that authenticates like the asciinema CLI."""
    client = APIClient()
    client.install_id = install_id or str(uuid.uuid4())  # type: ignore[attr-defined]
    client.credentials(HTTP_AUTHORIZATION=basic(client.install_id), HTTP_ACCEPT="application/json")  # type: ignore[attr-defined]
    return client


def linked_cli(user: object | None = None) -> APIClient:
    """A CLI already linked (`asciinema auth`) to a real account."""
    from apps.accounts.cli_installs import cli_install_claim
    from apps.accounts.tests.factories import UserFactory

    client = cli_client()
    cli_install_claim(user=user or UserFactory(), raw_install_id=client.install_id)  # type: ignore[attr-defined,arg-type]
    return client
