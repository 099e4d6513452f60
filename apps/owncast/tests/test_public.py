"""Owncast's public endpoints: status, config, ping, yp, emoji and /logo."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.chat.markup import render
from apps.owncast.models import StreamOwncastSettings
from apps.streams.live.services import live_stream_update
from castcore.pages import FAVICON

pytestmark = pytest.mark.django_db


def test_status_of_a_stream_that_never_went_live(streams: dict[str, Any]) -> None:
    status = Client().get("/owncast/red/api/status").json()
    assert status == {
        "online": False,
        "viewerCount": 0,
        "overallMaxViewerCount": 0,
        "sessionMaxViewerCount": 0,
        "lastConnectTime": None,
        "lastDisconnectTime": None,
        "versionNumber": "0.0.10",
        "streamTitle": "Red title",
    }


def test_config_renders_the_summary_and_names_the_logo(
    streams: dict[str, Any], operator_user: Any
) -> None:
    live_stream_update(
        actor=operator_user,
        stream=streams["red"],
        summary="The *best* in <script>x</script>streaming",
        tags=["music"],
        nsfw=True,
        social_links=[
            {"platform": "mastodon", "url": "https://example.org/@me"},
            {"platform": "evil", "url": "javascript:alert(1)"},
        ],
        page_content="<p onclick='x()'>Hi</p>",
    )
    StreamOwncastSettings.objects.create(
        stream=streams["red"], custom_styles="body{}", external_actions=[{"url": "https://a.b"}]
    )
    config = Client().get("/owncast/red/api/config").json()
    assert config["summary"] == "<p>The <em>best</em> in streaming</p>"
    assert config["logo"] == "/logo"
    assert (config["tags"], config["nsfw"]) == (["music"], True)
    assert config["socialHandles"] == [{"platform": "mastodon", "url": "https://example.org/@me"}]
    assert config["extraPageContent"] == "<p>Hi</p>"
    assert config["customStyles"] == "body{}"
    assert config["externalActions"] == [{"url": "https://a.b"}]
    assert config["chatDisabled"] is False


def test_the_logo_without_one_is_castcores_icon(streams: dict[str, Any], settings: Any) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "red"
    for path in ("/owncast/red/logo", "/logo"):
        response = Client().get(path)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == FAVICON.read_bytes()  # type: ignore[attr-defined]
    assert Client().get("/owncast/nope/logo").status_code == 404


def test_yp_answers_as_a_server_with_the_directory_off(streams: dict[str, Any]) -> None:
    response = Client().get("/owncast/red/api/yp")
    assert response.status_code == 404 and response.content == b""


def test_emoji_are_the_chats_own_shortcodes(streams: dict[str, Any]) -> None:
    emoji = Client().get("/owncast/red/api/emoji").json()
    assert {"name": "smile", "emoji": "😄"} in emoji
    # Each one is what the chat makes of `:name:`.
    for item in emoji:
        assert render(f":{item['name']}:") == item["emoji"]


def test_ping_is_an_empty_200(streams: dict[str, Any]) -> None:
    response = Client().get("/owncast/red/api/ping")
    assert response.status_code == 200 and response.content == b""
