"""Viewer counts: one viewer however it watches, players without cookies apart, expiry, samples."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from apps.streams.live import viewers
from apps.streams.live.models import LiveSession, ViewerSample
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    end_session,
    write_static_hls,
)
from workers.live_viewers import sample_live_viewers

pytestmark = pytest.mark.django_db

VLC = "VLC/3.0.20 LibVLC/3.0.20"


def _fetch_everything(client: Client, slug: str, **headers: Any) -> None:
    for suffix in ("/index.m3u8", "/v0/index.m3u8", "/v0/seg00007.ts", "/v0/seg00008.ts"):
        assert client.get(f"/live/{slug}{suffix}", headers=headers).status_code == 200


def test_a_browser_on_the_page_that_also_fetches_segments_is_one_viewer() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    browser = Client(REMOTE_ADDR="10.0.0.1")

    page = browser.get(f"/live/{stream.slug}")
    browser.get(f"/live/{stream.slug}/status.json")
    _fetch_everything(browser, stream.slug)

    assert viewers.VIEWER_COOKIE in page.cookies
    assert viewers.viewer_count(stream.pk) == 1
    assert browser.get(f"/live/{stream.slug}/status.json").json()["viewers"] == 1


def test_two_players_without_cookies_are_two_viewers_and_each_counts_once() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    first, second = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")

    for _ in range(3):
        _fetch_everything(first, stream.slug, User_Agent=VLC)
        _fetch_everything(second, stream.slug, User_Agent=VLC)

    assert viewers.viewer_count(stream.pk) == 2


def test_two_browsers_behind_one_address_are_two_viewers_by_their_cookies() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    for _ in range(2):
        browser = Client(REMOTE_ADDR="10.0.0.1", HTTP_USER_AGENT="Chromium")
        browser.get(f"/live/{stream.slug}")
        _fetch_everything(browser, stream.slug)

    assert viewers.viewer_count(stream.pk) == 2


def test_a_viewer_that_stops_fetching_expires_after_two_playlist_windows() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)  # target duration 2 s x 2 segments: a 4 s window
    start = time.time()
    with mock.patch("apps.streams.live.viewers.time.time", return_value=start):
        _fetch_everything(Client(), stream.slug, User_Agent=VLC)

    with mock.patch("apps.streams.live.viewers.time.time", return_value=start + 7.5):
        still = viewers.viewer_count(stream.pk)
    with mock.patch("apps.streams.live.viewers.time.time", return_value=start + 8.5):
        gone = viewers.viewer_count(stream.pk)

    assert (still, gone) == (1, 0)


def test_an_offline_pages_poll_counts_nobody() -> None:
    stream = a_live_stream(visibility="public", live=False)
    write_static_hls(stream)  # files left behind: the stream is still not live

    status = Client().get(f"/live/{stream.slug}/status.json").json()

    assert status == {"live": False, "viewers": 0, "title": stream.name}
    assert viewers.viewer_count(stream.pk) == 0


def test_sampling_writes_the_count_of_each_live_stream_and_raises_its_peak() -> None:
    live = a_live_stream(visibility="public")
    ended = a_live_stream(visibility="public")
    end_session(ended)
    write_static_hls(live)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        _fetch_everything(Client(REMOTE_ADDR=address), live.slug)

    assert sample_live_viewers() == 1
    session = LiveSession.objects.get(stream=live)
    sample = ViewerSample.objects.get(stream=live)
    assert (sample.count, sample.session_id) == (3, session.pk)
    assert session.peak_viewers == 3
    assert not ViewerSample.objects.filter(stream=ended).exists()


def test_a_lower_count_later_keeps_the_peak() -> None:
    stream = a_live_stream(visibility="public")
    LiveSession.objects.filter(stream=stream).update(peak_viewers=5)
    write_static_hls(stream)
    _fetch_everything(Client(), stream.slug)

    sample_live_viewers()

    assert LiveSession.objects.get(stream=stream).peak_viewers == 5
    assert ViewerSample.objects.get(stream=stream).count == 1
