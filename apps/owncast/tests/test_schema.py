"""The Owncast endpoints in CastCore's OpenAPI schema: both bases, Owncast's auth and errors."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.owncast.urls import api_patterns, integration_patterns

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _routes() -> list[str]:
    found = []
    for entry in api_patterns:
        route = str(entry.pattern)
        if route == "integrations/":
            found += [f"integrations/{p.pattern}" for p in integration_patterns]
        elif route != "admin/":
            found.append(route)
    return [route.replace("<str:client_id>", "{client_id}") for route in found]


def test_every_endpoint_is_listed_under_both_bases(schema: dict[str, Any]) -> None:
    routes = _routes()
    assert "integrations/chat/updatemessagevisibility" in routes
    for route in routes:
        assert f"/api/{route}" in schema["paths"], route
        assert f"/owncast/{{slug}}/api/{route}" in schema["paths"], route


def test_integrations_name_owncasts_security_scheme(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/integrations/chat/send"]["post"]
    assert operation["security"] == [{"AccessToken": []}]
    chat = schema["paths"]["/api/chat"]["get"]
    assert chat["security"] == [{"UserToken": []}]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["UserToken"] == {
        "type": "apiKey",
        "in": "query",
        "name": "accessToken",
        "description": "Owncast chat user: the access token of POST /api/chat/register.",
    }


def test_owncasts_plain_text_errors_are_documented_as_text(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/owncast/{slug}/api/integrations/chat"]["get"]
    for status in ("401", "404"):
        assert operation["responses"][status]["content"] == {
            "text/plain": {"schema": {"type": "string"}}
        }
    root = schema["paths"]["/api/status"]["get"]  # no default stream: a 404 at the root too
    assert "text/plain" in root["responses"]["404"]["content"]
    body = schema["paths"]["/api/integrations/chat/send"]["post"]["responses"]["400"]
    assert "application/json" in body["content"]
