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
        summary="The *best* in streaming",
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


def test_emoji_are_the_chats_own_shortcodes_with_an_image_each(streams: dict[str, Any]) -> None:
    emoji = Client().get("/owncast/red/api/emoji").json()
    assert {"name": "smile", "emoji": "/owncast/red/img/emoji/smile.svg"} in emoji
    for item in emoji:
        # Each one is an image under the base (Owncast's clients show it with <img>), of
        # the character the chat makes of `:name:`.
        image = Client().get(item["emoji"])
        assert image.status_code == 200 and image["Content-Type"] == "image/svg+xml"
        assert render(f":{item['name']}:") in image.content.decode()
        assert "default-src 'none'" in image["Content-Security-Policy"]
    assert Client().get("/owncast/red/img/emoji/nope.svg").status_code == 404


def test_the_root_serves_the_default_streams_emoji(streams: dict[str, Any], settings: Any) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "red"
    emoji = Client().get("/api/emoji").json()
    assert {"name": "smile", "emoji": "/img/emoji/smile.svg"} in emoji
    assert Client().get("/img/emoji/smile.svg").status_code == 200


def test_ping_is_an_empty_200(streams: dict[str, Any]) -> None:
    response = Client().get("/owncast/red/api/ping")
    assert response.status_code == 200 and response.content == b""
