"""The IPTV routes (plain Django views) are in the OpenAPI schema, and what they really
answer is what it documents: status, media type and the access rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from apps.channels import conf as channels_conf
from apps.channels.models import ChannelMode, ChannelVisibility
from apps.channels.play.paths import PLAYLIST, hls_dir
from apps.channels.tests.play_helpers import playing_channel

pytestmark = pytest.mark.django_db

IPTV_PATHS = {
    "/epg.xml", "/playlist.m3u", "/channels/{slug}/epg.xml", "/discover.json", "/device.xml",
    "/lineup.json", "/lineup_status.json", "/channels/{slug}/index.m3u8",
    "/channels/{slug}/stream.ts", "/channels/{slug}/{name}",
}  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_iptv_route_is_documented_with_its_rule(schema: dict[str, Any]) -> None:
    assert set(schema["paths"]) >= IPTV_PATHS
    schemes = schema["components"]["securitySchemes"]
    assert schemes["channelToken"] == {
        "type": "apiKey", "in": "query", "name": "token",
        "description": schemes["channelToken"]["description"],
    }  # fmt: skip
    for path in IPTV_PATHS:
        operation = schema["paths"][path]["get"]
        alternatives = operation["security"]
        assert {} in alternatives, path  # public channels need nothing
        if "{slug}" in path:
            assert {"channelToken": []} in alternatives, path
            assert "404" in operation["responses"], path
        else:
            assert alternatives == [{}], path  # public channels only


def _documented_type(schema: dict[str, Any], path: str, status: int) -> str:
    responses = schema["paths"][path]["get"]["responses"]
    assert str(status) in responses, f"{path} answered an undocumented {status}"
    (media_type,) = responses[str(status)]["content"]
    return str(media_type)


def test_what_the_routes_answer_is_what_the_schema_says(
    schema: dict[str, Any], tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.0)
    playing = playing_channel(slug="playing", number=1)
    folder = hls_dir(playing.pk)
    folder.mkdir(parents=True)
    (folder / "segment_00001.ts").write_bytes(b"G" * 188)
    (folder / PLAYLIST).write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_00001.ts\n"
    )
    playing_channel(slug="later", number=2, mode=ChannelMode.ON_DEMAND)
    hidden = playing_channel(slug="hidden", number=3, visibility=ChannelVisibility.UNLISTED)
    client = Client()
    asked = {
        ("/epg.xml", "/epg.xml"), ("/playlist.m3u", "/playlist.m3u"),
        ("/discover.json", "/discover.json"), ("/device.xml", "/device.xml"),
        ("/lineup.json", "/lineup.json"), ("/lineup_status.json", "/lineup_status.json"),
        ("/channels/{slug}/epg.xml", "/channels/playing/epg.xml"),
        ("/channels/{slug}/epg.xml", "/channels/hidden/epg.xml"),  # no token: 404
        ("/channels/{slug}/epg.xml", f"/channels/hidden/epg.xml?token={hidden.url_token}"),
        ("/channels/{slug}/index.m3u8", "/channels/playing/index.m3u8"),
        ("/channels/{slug}/index.m3u8", "/channels/later/index.m3u8"),  # not playing: 503
        ("/channels/{slug}/index.m3u8", "/channels/nothing/index.m3u8"),
        ("/channels/{slug}/{name}", "/channels/playing/segment_00001.ts"),
        ("/channels/{slug}/{name}", "/channels/playing/segment_00009.ts"),
        ("/channels/{slug}/stream.ts", "/channels/later/stream.ts"),  # not playing: 503
        ("/channels/{slug}/stream.ts", "/channels/hidden/stream.ts"),
        ("/epg.xml", "/epg.xml?x=\x00"),  # a NUL: 400 before any view
    }  # fmt: skip
    statuses = set()
    for documented, url in sorted(asked):
        response = client.get(url)
        media_type = _documented_type(schema, documented, response.status_code)
        assert response["Content-Type"].split(";")[0] == media_type, url
        statuses.add(response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert statuses == {200, 400, 404, 503}


def test_the_segments_ranges_and_revalidation_are_documented(
    schema: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    playing = playing_channel(slug="playing", number=1)
    folder = hls_dir(playing.pk)
    folder.mkdir(parents=True)
    (folder / "segment_00001.ts").write_bytes(b"G" * 188 * 4)
    url = "/channels/playing/segment_00001.ts"
    client = Client()
    etag = client.get(url)["ETag"]
    answers = {
        206: client.get(url, headers={"Range": "bytes=0-187"}),
        304: client.get(url, headers={"If-None-Match": etag}),
        416: client.get(url, headers={"Range": "bytes=100000-"}),
    }
    responses = schema["paths"]["/channels/{slug}/{name}"]["get"]["responses"]
    for status, response in answers.items():
        assert response.status_code == status
        assert str(status) in responses, f"an undocumented {status}"
    assert _documented_type(schema, "/channels/{slug}/{name}", 206) == "video/mp2t"
    assert answers[206]["Content-Type"] == "video/mp2t"
    for status in (206, 416):
        assert (
            "Content-Range" in answers[status]
            and "Content-Range" in responses[str(status)]["headers"]
        )
