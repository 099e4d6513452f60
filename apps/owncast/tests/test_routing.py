"""Each live stream's base /owncast/<slug>/, and the default stream at the host root."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_each_stream_answers_under_its_own_base(streams: dict[str, Any]) -> None:
    client = Client()
    red = client.get("/owncast/red/api/config").json()
    blue = client.get("/owncast/blue/api/config").json()
    assert (red["name"], red["streamTitle"]) == ("Red", "Red title")
    assert (blue["name"], blue["streamTitle"]) == ("Blue", "Blue title")


def test_the_root_serves_the_default_stream(streams: dict[str, Any], settings: Any) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "blue"
    response = Client().get("/api/config")
    assert response.status_code == 200
    assert response.json()["name"] == "Blue"


def test_without_a_default_stream_the_root_is_owncasts_404(
    streams: dict[str, Any], settings: Any
) -> None:
    settings.OWNCAST_DEFAULT_STREAM = ""
    response = Client().get("/api/status")
    assert response.status_code == 404
    assert response.content == b"404 page not found\n"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/owncast/nope/api/status", "/owncast/red/api/nothing"])
def test_an_unknown_stream_or_path_under_a_base_is_owncasts_404(
    streams: dict[str, Any], path: str
) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert response.content == b"404 page not found\n"


def test_a_private_stream_has_no_public_owncast_surface(
    streams: dict[str, Any], settings: Any
) -> None:
    red = streams["red"]
    red.visibility = "private"
    red.save(update_fields=["visibility"])
    settings.OWNCAST_DEFAULT_STREAM = "red"
    assert Client().get("/owncast/red/api/status").status_code == 404
    assert Client().get("/api/config").status_code == 404


def test_the_native_api_keeps_its_paths_next_to_owncasts(
    streams: dict[str, Any], settings: Any
) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "red"
    client = Client()
    # The native catch-all still answers unknown /api/ paths in its envelope.
    assert client.get("/api/nothing").json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/users").status_code == 401
    assert client.get("/api/status").status_code == 200


def test_public_endpoints_allow_any_origin(streams: dict[str, Any]) -> None:
    response = Client().get("/owncast/red/api/status")
    assert response["Access-Control-Allow-Origin"] == "*"
    preflight = Client().options("/owncast/red/api/status")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
