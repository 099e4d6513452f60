"""HLS delivery at /live/{slug}/…: cache headers, access rules, watch-link tickets, names."""

from __future__ import annotations

import json
import os
import time
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.recordings.views import VIEWER_TICKET_SALT
from apps.streams.live import delivery, viewing
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    write_static_hls,
)
from castcore.tickets import make_ticket

pytestmark = pytest.mark.django_db


def _get(client: Client, url: str, **headers: Any) -> Any:
    return client.get(url, headers=headers)


def test_a_public_stream_serves_its_playlists_uncached_and_segments_immutable() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    client = Client()

    master = client.get(f"/live/{stream.slug}/index.m3u8")
    variant = client.get(f"/live/{stream.slug}/v0/index.m3u8")
    segment = client.get(f"/live/{stream.slug}/v0/seg00007.ts")

    assert master.status_code == 200
    assert master["Content-Type"] == "application/vnd.apple.mpegurl"
    assert master["Cache-Control"] == "public, no-cache"
    assert master.content.decode().splitlines()[-1] == "v0/index.m3u8"
    assert variant.status_code == 200
    assert variant["Cache-Control"] == "public, no-cache"
    assert "seg00008.ts" in variant.content.decode()
    assert segment.status_code == 200
    assert segment["Content-Type"] == "video/mp2t"
    assert segment["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(segment.streaming_content) == b"\x47" + bytes(187)  # type: ignore[attr-defined]


def test_a_segment_answers_a_range_and_a_revalidation() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    url = f"/live/{stream.slug}/v0/seg00007.ts"
    first = Client().get(url)

    part = _get(Client(), url, Range="bytes=0-9")
    again = _get(Client(), url, If_None_Match=first["ETag"])

    assert part.status_code == 206 and part["Content-Length"] == "10"
    assert again.status_code == 304


def test_an_unlisted_stream_is_served_to_whoever_has_the_link_but_not_cached_by_proxies() -> None:
    stream = a_live_stream(visibility="unlisted")
    write_static_hls(stream)

    master = Client().get(f"/live/{stream.slug}/index.m3u8")
    segment = Client().get(f"/live/{stream.slug}/v0/seg00007.ts")
    page = Client().get(f"/live/{stream.slug}")

    assert master.status_code == 200 and master["Cache-Control"] == "private, no-cache"
    assert segment.status_code == 200 and segment["Cache-Control"].startswith("private, ")
    assert page.status_code == 200 and page["X-Robots-Tag"] == "noindex"


PRIVATE_URLS = ["", "/index.m3u8", "/v0/index.m3u8", "/v0/seg00007.ts", "/status.json"]


@pytest.mark.parametrize("suffix", PRIVATE_URLS)
def test_a_private_stream_is_404_to_anonymous_viewers_and_other_users(suffix: str) -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    stranger = Client()
    viewer: Any = UserFactory(role=Role.VIEWER)
    stranger.force_login(viewer)

    assert Client().get(f"/live/{stream.slug}{suffix}").status_code == 404
    assert stranger.get(f"/live/{stream.slug}{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", PRIVATE_URLS)
def test_a_private_stream_is_served_to_its_owner_and_to_admins(suffix: str) -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    owner = Client()
    owner.force_login(stream.owner)  # type: ignore[arg-type]
    admin: Any = UserFactory(role=Role.ADMIN)
    jwt = str(RefreshToken.for_user(admin).access_token)

    assert owner.get(f"/live/{stream.slug}{suffix}").status_code == 200
    by_bearer = _get(Client(), f"/live/{stream.slug}{suffix}", Authorization=f"Bearer {jwt}")
    assert by_bearer.status_code == 200


def test_a_watch_link_ticket_propagates_from_the_master_to_every_segment() -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    ticket = viewing.watch_ticket(stream)
    client = Client()

    master = client.get(f"/live/{stream.slug}/index.m3u8", {"t": ticket})
    variant_uri = master.content.decode().splitlines()[-1]
    variant = client.get(f"/live/{stream.slug}/{variant_uri}")
    segment_uri = variant.content.decode().splitlines()[-1]
    segment = client.get(f"/live/{stream.slug}/v0/{segment_uri}")

    assert master.status_code == 200
    assert variant_uri.startswith("v0/index.m3u8?t=")
    assert variant.status_code == 200
    assert segment_uri.startswith("seg00008.ts?t=")
    assert segment.status_code == 200 and segment["Content-Type"] == "video/mp2t"
    assert client.get(f"/live/{stream.slug}/v0/seg00008.ts").status_code == 404


def test_a_watch_link_opens_the_page_whose_player_uses_it() -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    ticket = viewing.watch_ticket(stream)

    page = Client().get(f"/live/{stream.slug}", {"t": ticket})

    assert page.status_code == 200
    config = page.content.decode().split('id="live-page" type="application/json">')[1]
    assert json.loads(config.split("</script>")[0])["playlist"] == (
        f"/live/{stream.slug}/index.m3u8?{urlencode({'t': ticket})}"
    )


def test_an_expired_ticket_or_one_for_another_stream_opens_nothing() -> None:
    stream = a_live_stream(visibility="private")
    other = a_live_stream(visibility="private")
    write_static_hls(stream)
    expired = viewing.watch_ticket(stream, seconds=60)
    foreign = viewing.watch_ticket(other)

    with mock.patch("time.time", return_value=time.time() + 61):
        assert Client().get(f"/live/{stream.slug}/index.m3u8", {"t": expired}).status_code == 404
    assert Client().get(f"/live/{stream.slug}/index.m3u8", {"t": foreign}).status_code == 404
    assert Client().get(f"/live/{stream.slug}/index.m3u8", {"t": "forged"}).status_code == 404


def test_a_ticket_is_not_carried_into_a_public_streams_playlists_when_invalid() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)

    master = Client().get(f"/live/{stream.slug}/index.m3u8", {"t": "junk"})

    assert master.status_code == 200
    assert master.content.decode().splitlines()[-1] == "v0/index.m3u8"


@pytest.mark.parametrize(
    "suffix",
    [
        "/v0/..%2Findex.m3u8",
        "/..%2F..%2Fetc/passwd",
        "/v0/%2e%2e",
        "/v0/seg00007.exe",
        "/v0/.seg00007.ts",
        "/v0/seg00007.ts.m3u8",
        "/v.0/index.m3u8",
        "/v0/sub/seg00007.ts",
        "/v0/seg00099.ts",
        "/nope/index.m3u8",
    ],
)
def test_names_outside_the_hls_folder_or_its_file_kinds_are_404(suffix: str) -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)

    assert Client().get(f"/live/{stream.slug}{suffix}").status_code == 404


def test_a_nul_in_a_name_is_refused_before_any_view() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)

    # Django's own path check answers it (400), not the disk.
    assert Client().get(f"/live/{stream.slug}/v0/seg00007.ts%00.m3u8").status_code == 400


def test_a_symlink_out_of_the_hls_folder_is_not_followed(tmp_path: Any) -> None:
    stream = a_live_stream(visibility="public")
    root = write_static_hls(stream)
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"secret")
    os.symlink(secret, root / "v0" / "leak.ts")

    assert Client().get(f"/live/{stream.slug}/v0/leak.ts").status_code == 404


def test_an_unknown_slug_and_a_stream_without_hls_yet_are_404() -> None:
    stream = a_live_stream(visibility="public")

    assert Client().get("/live/no-such-stream/index.m3u8").status_code == 404
    assert Client().get(f"/live/{stream.slug}/index.m3u8").status_code == 404
    assert Client().get(f"/live/{stream.slug}/v0/index.m3u8").status_code == 404


def test_playlists_refuse_writes() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)

    assert Client().post(f"/live/{stream.slug}/index.m3u8").status_code == 405


def test_a_ticket_reaches_uris_in_tags_too_and_leaves_absolute_ones_alone() -> None:
    playlist = (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"\n'
        '#EXT-X-MAP:URI="init.mp4"\n'
        "#EXTINF:1.0,\nsegment_00001.m4s\n"
        "#EXTINF:1.0,\nhttps://cdn.example.org/x.m4s\n"
    )

    rewritten = delivery.with_query(playlist, {"t": "a b", "s": "7"})

    assert 'URI="audio/index.m3u8?t=a+b&s=7"' in rewritten
    assert 'URI="init.mp4?t=a+b&s=7"' in rewritten
    assert "\nsegment_00001.m4s?t=a+b&s=7\n" in rewritten
    assert "\nhttps://cdn.example.org/x.m4s\n" in rewritten


def test_a_terminal_streams_viewer_ticket_opens_no_live_stream() -> None:
    stream = a_live_stream(visibility="private")
    write_static_hls(stream)
    # The recordings app's ticket for a terminal stream with the same id: another salt.
    other = make_ticket(salt=VIEWER_TICKET_SALT, subject=stream.pk)

    assert Client().get(f"/live/{stream.slug}/index.m3u8", {"t": other}).status_code == 404
