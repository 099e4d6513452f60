"""XMLTV guide, M3U and the tuner surface, read as IPTV clients read them."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from lxml import etree

from apps.channels.models import (
    BlockMode,
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.conftest import ClipLibrary, xmltv_dtd
from apps.media.models import MediaItem
from apps.streams.tests.factories import new_profile

pytestmark = pytest.mark.django_db

HOSTILE_NAME = 'News & <Weather>, "24/7" — Ночь'
# Names as a library can hold them: control characters, an ampersand, quotes, CJK.
HOSTILE_RELPATH = "Shows\x07/Bell\x01 & \x1b[31mRed \"Q\" 'A' 東京 - S02E05 - <b>Pilot<b>.mp4"
# The exact pattern Jellyfin-style parsers use for #EXTINF lines.
EXTINF = re.compile(r'^#EXTINF:-1 (?P<attrs>(?:[a-z-]+="[^"]*" ?)*),(?P<name>.*)$')
ATTR = re.compile(r'([a-z-]+)="([^"]*)"')


def _body(response: Any) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


@pytest.fixture
def channels(clip_library: ClipLibrary) -> list[Channel]:
    """Two public channels (one hostile-named, in Paris; one in New York) and an unlisted one."""
    hostile = MediaItem.objects.create(
        source=clip_library.source,
        relpath=HOSTILE_RELPATH,
        duration=600.0,
        probed_at=timezone.now(),
    )
    shows = Playlist.objects.create(name="Shows")
    PlaylistItem.objects.create(playlist=shows, kind=ItemKind.MEDIA, media_item=hostile)
    PlaylistItem.objects.create(
        playlist=shows, kind=ItemKind.MEDIA, media_item=clip_library["Films/Пёс и кот.mp4"]
    )
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    bumpers = Playlist.objects.create(name="Bumpers")
    PlaylistItem.objects.create(
        playlist=bumpers, kind=ItemKind.MEDIA, media_item=clip_library["Filler/bumper.mp4"]
    )
    profile = new_profile()  # they can play: the M3U and the lineup list only those
    made = [
        Channel.objects.create(
            number=1, name=HOSTILE_NAME, slug="hostile", time_zone="Europe/Paris",
            group='Local, "City"', filler_playlist=bumpers, output_profile=profile,
        ),
        Channel.objects.create(number=2, name="Two", slug="two", time_zone="America/New_York",
                               output_profile=profile),
        Channel.objects.create(number=3, name="Hidden", slug="hidden", visibility="unlisted",
                               output_profile=profile),
    ]  # fmt: skip
    # Duration blocks shorter than the gap between them: filler pads each.
    for channel, playlist in zip(made, [shows, news, news], strict=True):
        for hour in (0, 6, 12, 18):
            ScheduleBlock.objects.create(
                channel=channel, playlist=playlist, start_time=time(hour),
                mode=BlockMode.DURATION, duration=3 * 3600,
            )  # fmt: skip
        playout_rebuild(channel=channel, horizon=timedelta(days=2))
    return made


def test_the_guide_validates_against_the_dtd_with_hostile_titles(
    api: Any, channels: list[Channel]
) -> None:
    body = _body(api.get("/epg.xml"))
    tree = etree.fromstring(body)
    assert xmltv_dtd().validate(tree), xmltv_dtd().error_log.filter_from_errors()
    titles = tree.xpath("//programme/title/text()")
    assert "Bell & [31mRed \"Q\" 'A' 東京" in titles  # escaped, control characters gone
    assert "Пёс и кот" in titles
    assert tree.xpath("//channel/display-name/text()")[0] == HOSTILE_NAME
    sub = tree.xpath("//programme[episode-num]/sub-title/text()")
    assert sub and sub[0] == "<b>Pilot<b>"
    assert (
        tree.xpath("//programme[episode-num]/episode-num[@system='xmltv_ns']/text()")[0] == "1.4."
    )
    assert b"\x07" not in body and b"\x1b" not in body


def test_the_guide_uses_each_channels_offset_and_folds_filler(
    api: Any, channels: list[Channel]
) -> None:
    tree = etree.fromstring(_body(api.get("/epg.xml")))
    paris = tree.xpath(f"//programme[@channel='{channels[0].guide_id}']")
    new_york = tree.xpath(f"//programme[@channel='{channels[1].guide_id}']")
    assert paris and all(p.get("start")[-5:] in ("+0100", "+0200") for p in paris)
    assert new_york and all(p.get("start")[-5:] in ("-0500", "-0400") for p in new_york)
    # Filler never gets its own programme: each one's stop is the next one's start.
    for programmes in (paris, new_york):
        for before, after in itertools.pairwise(programmes):
            assert before.get("stop") == after.get("start")
    # One programme per item; filler only opens one when nothing airs before it.
    rows = list(PlayoutRow.objects.filter(channel=channels[0]).order_by("start"))
    assert any(r.filler for r in rows[1:])
    expected = sum(1 for r in rows if not r.filler) + (1 if rows[0].filler else 0)
    assert len(paris) == expected
    zone = ZoneInfo("Europe/Paris")
    assert paris[-1].get("stop") == rows[-1].end.astimezone(zone).strftime("%Y%m%d%H%M%S %z")


def test_the_public_feeds_leave_out_non_public_channels(api: Any, channels: list[Channel]) -> None:
    guide = _body(api.get("/epg.xml")).decode()
    m3u = _body(api.get("/playlist.m3u")).decode()
    lineup = json.loads(api.get("/lineup.json").content)
    hidden = channels[2]
    assert hidden.guide_id not in guide and hidden.url_token not in m3u
    assert [c["GuideNumber"] for c in lineup] == ["1", "2"]


def test_the_m3u_and_the_lineup_leave_out_channels_that_cannot_play(
    api: Any, channels: list[Channel]
) -> None:
    # Public, but with no output profile it can never play: a client would list it dead.
    dead = Channel.objects.create(number=9, name="No profile", slug="dead")
    m3u = _body(api.get("/playlist.m3u")).decode()
    lineup = json.loads(api.get("/lineup.json").content)
    assert "/channels/dead/" not in m3u and f'tvg-chno="{dead.number}"' not in m3u
    assert 'tvg-chno="1"' in m3u and 'tvg-chno="2"' in m3u
    assert [c["GuideNumber"] for c in lineup] == ["1", "2"]


def test_m3u_ids_match_the_guide_and_names_with_commas_and_quotes_survive(
    api: Any, channels: list[Channel]
) -> None:
    guide = etree.fromstring(_body(api.get("/epg.xml")))
    lines = _body(api.get("/playlist.m3u")).decode().splitlines()
    assert (
        lines[0]
        == '#EXTM3U url-tvg="http://testserver/epg.xml" x-tvg-url="http://testserver/epg.xml"'
    )
    entries = []
    for extinf, url in zip(lines[1::2], lines[2::2], strict=True):
        match = EXTINF.match(extinf)
        assert match, extinf
        entries.append((dict(ATTR.findall(match["attrs"])), match["name"], url))
    assert {e[0]["tvg-id"] for e in entries} == set(guide.xpath("//channel/@id"))
    first, _, url = entries[0]
    assert entries[0][1] == HOSTILE_NAME  # after the comma, exactly the name
    assert first["tvg-chno"] == "1" and first["group-title"] == "Local, 'City'"
    assert url == "http://testserver/channels/hostile/index.m3u8"


def test_the_api_m3u_of_an_unlisted_channel_carries_its_token(
    viewer_api: Any, channels: list[Channel]
) -> None:
    hidden = channels[2]
    response = viewer_api.get(f"/api/v1/channels/{hidden.pk}/playlist.m3u")
    body = _body(response).decode()
    assert f"/channels/hidden/index.m3u8?token={hidden.url_token}" in body
    assert f'tvg-id="{hidden.guide_id}"' in body
    guide = etree.fromstring(_body(viewer_api.get(f"/api/v1/channels/{hidden.pk}/epg.xml")))
    assert guide.xpath("//channel/@id") == [hidden.guide_id]


def test_anonymous_api_guides_are_refused(api: Any, channels: list[Channel]) -> None:
    response = api.get(f"/api/v1/channels/{channels[0].pk}/epg.xml")
    assert response.status_code == 401
    assert response.json()["error"]["code"].startswith("auth.")


def test_the_tuner_answers_what_plex_reads(api: Any, channels: list[Channel]) -> None:
    discover = json.loads(api.get("/discover.json").content)
    assert discover["BaseURL"] == "http://testserver"
    assert discover["LineupURL"] == "http://testserver/lineup.json"
    assert re.fullmatch(r"[0-9A-F]{8}", discover["DeviceID"]) and discover["TunerCount"] >= 1
    lineup = json.loads(api.get("/lineup.json").content)
    assert lineup[0] == {
        "GuideNumber": "1",
        "GuideName": HOSTILE_NAME,
        "URL": "http://testserver/channels/hostile/stream.ts",
    }
    status = json.loads(api.get("/lineup_status.json").content)
    assert status["ScanInProgress"] == 0


def test_the_guide_times_agree_with_the_rows(api: Any, channels: list[Channel]) -> None:
    tree = etree.fromstring(_body(api.get("/epg.xml")))
    two = channels[1]
    zone = ZoneInfo("America/New_York")
    starts = {
        datetime.strptime(p.get("start"), "%Y%m%d%H%M%S %z").astimezone(UTC)
        for p in tree.xpath(f"//programme[@channel='{two.guide_id}']")
    }
    items = PlayoutRow.objects.filter(channel=two, filler=False, start__gte=timezone.now())
    assert items.exists()
    # XMLTV times are whole seconds; a compile from now starts items at now's fraction.
    assert {r.start.replace(microsecond=0) for r in items} <= starts
    assert all(s.astimezone(zone).utcoffset() is not None for s in starts)


def test_a_logo_is_the_guides_icon_and_the_m3us_tvg_logo(
    api: Any, channels: list[Channel], settings: Any, tmp_path: Path
) -> None:
    from django.core.files.base import ContentFile

    from apps.media.models import Asset

    settings.MEDIA_ROOT = tmp_path / "media-root"
    logo = Asset(kind="logo", name="Logo", mime="image/png", width=8, height=8, sha256="0" * 64,
                 size=4)  # fmt: skip
    logo.file.save("logo.png", ContentFile(b"\x89PNG"), save=True)
    Channel.objects.filter(pk=channels[1].pk).update(logo=logo)
    url = f"http://testserver/{settings.MEDIA_URL.strip('/')}/{logo.file.name}"
    guide = etree.fromstring(_body(api.get("/epg.xml")))
    assert xmltv_dtd().validate(guide), xmltv_dtd().error_log.filter_from_errors()
    assert guide.xpath(f"//channel[@id='{channels[1].guide_id}']/icon/@src") == [url]
    assert f'tvg-logo="{url}"' in _body(api.get("/playlist.m3u")).decode()


def _m3u_urls(body: str) -> tuple[str, list[str]]:
    """The guide URL and the stream URLs of an M3U, as an IPTV client reads them."""
    lines = body.splitlines()
    guide = dict(ATTR.findall(lines[0]))["url-tvg"]
    return guide, [line for line in lines[1:] if line and not line.startswith("#")]


def _write_hls(channel: Channel) -> None:
    """The playlist the playing engine writes, so the stream URL has something to serve."""
    from apps.channels.play.paths import PLAYLIST, hls_dir

    folder = hls_dir(channel.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLAYLIST).write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_00001.ts\n"
    )
    (folder / "segment_00001.ts").write_bytes(b"G" * 188)  # listed segments exist


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private"])
def test_every_url_of_a_channels_m3u_works_with_no_other_credential(
    viewer_api: Any, channels: list[Channel], visibility: str, settings: Any, tmp_path: Path
) -> None:
    from rest_framework.test import APIClient

    settings.VAR_DIR = tmp_path
    channel = channels[2]
    Channel.objects.filter(pk=channel.pk).update(visibility=visibility)
    channel.refresh_from_db()
    playout_rebuild(channel=channel, horizon=timedelta(days=1))
    _write_hls(channel)
    body = _body(viewer_api.get(f"/api/v1/channels/{channel.pk}/playlist.m3u")).decode()
    guide_url, [stream_url] = _m3u_urls(body)
    assert "/api/" not in guide_url  # the API's guide would want an API token
    client = APIClient()  # an IPTV client: no API token, no session
    guide = etree.fromstring(_body(client.get(guide_url)))
    assert xmltv_dtd().validate(guide), xmltv_dtd().error_log.filter_from_errors()
    assert guide.xpath("//channel/@id") == [channel.guide_id]
    assert guide.xpath("//programme/@channel"), "the guide has the channel's programmes"
    stream = client.get(stream_url)
    assert stream.status_code == 200 and b"#EXTINF" in stream.content
    if visibility == "public":
        assert "token=" not in body
    else:
        assert body.count(f"token={channel.url_token}") == 3  # url-tvg, x-tvg-url, stream
        # Without the token neither answers, and a wrong one is no better.
        for url in (guide_url, stream_url):
            bare = url.split("?")[0]
            assert client.get(bare).status_code == 404
            assert client.get(f"{bare}?token=x{channel.url_token}").status_code == 404


def test_the_public_m3us_guide_and_streams_need_no_credential(
    api: Any, channels: list[Channel], settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    for channel in channels[:2]:
        _write_hls(channel)
    guide_url, stream_urls = _m3u_urls(_body(api.get("/playlist.m3u")).decode())
    guide = etree.fromstring(_body(api.get(guide_url)))
    assert set(guide.xpath("//channel/@id")) == {c.guide_id for c in channels[:2]}
    assert [api.get(url).status_code for url in stream_urls] == [200, 200]


def test_the_guide_served_from_rendered_programmes_follows_every_compile(
    api: Any, channels: list[Channel]
) -> None:
    first = _body(api.get("/epg.xml"))
    assert _body(api.get("/epg.xml")) == first  # the second from the rendered programmes
    two = channels[1]
    block = ScheduleBlock.objects.filter(channel=two).first()
    assert block is not None
    films = Playlist.objects.create(name="Only films")
    PlaylistItem.objects.create(
        playlist=films,
        kind=ItemKind.MEDIA,
        media_item=MediaItem.objects.get(relpath__startswith="Films/Tom"),
    )
    ScheduleBlock.objects.filter(channel=two).update(playlist=films)
    playout_rebuild(channel=two, horizon=timedelta(days=2))
    after = etree.fromstring(_body(api.get("/epg.xml")))
    titles = set(after.xpath(f"//programme[@channel='{two.guide_id}']/title/text()"))
    assert 'Tom & Jerry <Special> "Quoted"' in titles
    Channel.objects.filter(pk=two.pk).update(time_zone="Asia/Tokyo")
    tokyo = etree.fromstring(_body(api.get("/epg.xml")))
    starts = tokyo.xpath(f"//programme[@channel='{two.guide_id}']/@start")
    assert starts and all(s.endswith("+0900") for s in starts)


def test_the_guide_from_cached_programmes_equals_one_rendered_whole(
    channels: list[Channel],
) -> None:
    from apps.channels import feeds
    from apps.channels.epg import render_xmltv

    listed = feeds.guide_channels(None, Channel.objects.order_by("number"))
    start, end = feeds.guide_window()
    ids = [c.id for c in listed]
    whole = "".join(
        render_xmltv(listed, feeds.guide_rows(ids, start, end), feeds.guide_spans(ids, start, end))
    )
    cold = "".join(feeds.guide_chunks(listed, start, end))
    warm = "".join(feeds.guide_chunks(listed, start, end))
    assert cold == warm == whole


def test_the_periodic_extend_does_not_change_a_channels_rendered_programmes_key(
    channels: list[Channel],
) -> None:
    """The refresh extends every channel every few minutes; its new rows must land past
    the guide's window, or every extend throws away every channel's rendered guide."""
    from apps.channels import feeds
    from apps.channels.services.playout import playout_extend

    channel = channels[0]
    now = timezone.now()
    playout_rebuild(channel=channel, now=now)  # to the default horizon, as the refresh does

    def key() -> str:
        start, end = feeds.guide_window()
        (listed,) = feeds.guide_channels(None, [channel])
        span, last_id = feeds._spans_and_last_ids([channel.pk], start, end)[channel.pk]
        return feeds._fragment_key(listed, span, last_id, start)

    before = key()
    written = 0
    for minutes in range(5, 60, 5):  # the refresh's next passes in the hour
        written += playout_extend(channel=channel, now=now + timedelta(minutes=minutes))
        assert key() == before
    assert written > 0
