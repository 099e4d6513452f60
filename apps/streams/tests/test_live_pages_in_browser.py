"""Live watch pages in headless Chromium: hls.js plays what a real ffmpeg writes, the page
follows the stream offline and back, the home page lists it, a private one is a 404."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.streams.live import viewers
from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.live.paths import hls_dir
from apps.streams.models import ExitReason, JobState, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import StreamJobFactory
from apps.streams.tests.helpers import start_supervised, wait_until
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    end_session,
    start_hls_ffmpeg,
    stop_process,
    wait_for_playlist,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]

PLAYING = """() => {
  const v = document.getElementById('live-video');
  return v && !v.hidden && v.currentTime > 1.5 && !v.paused;
}"""


def _off_the_browsers_thread(work: Callable[[], Any]) -> Any:
    """ORM work while the page is open: Playwright's sync API runs an event loop on this
    thread, where Django refuses database calls."""
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(work).result(timeout=30)
        pool.submit(connections.close_all).result(timeout=30)
    return result


def _current_time(page: Any) -> float:
    return float(page.evaluate("() => document.getElementById('live-video').currentTime"))


def test_the_watch_page_plays_the_stream_and_follows_it_offline_and_back(live_server: Any) -> None:
    stream = a_live_stream(visibility="public", title="Test pattern")
    ffmpeg = start_hls_ffmpeg(stream)
    errors: list[str] = []
    try:
        wait_for_playlist(stream)
        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/live/{stream.slug}")

            page.wait_for_function(PLAYING, timeout=30_000)
            before = _current_time(page)
            page.wait_for_timeout(2_000)
            assert _current_time(page) > before + 1.0  # it goes on playing, in real time
            # The page and its player's fetches are one viewer (the cookie goes with both).
            assert viewers.viewer_count(stream.pk) == 1

            stop_process(ffmpeg)
            _off_the_browsers_thread(lambda: end_session(stream))
            page.wait_for_selector("#live-offline:not([hidden])", timeout=15_000)
            assert page.locator("#live-state").inner_text() == "Offline"
            assert page.locator("#live-video").is_hidden()

            _off_the_browsers_thread(
                lambda: LiveSession.objects.create(stream=stream, protocol="rtmp")
            )
            ffmpeg = start_hls_ffmpeg(stream)
            wait_for_playlist(stream)
            page.wait_for_selector("#live-offline[hidden]", state="attached", timeout=15_000)
            assert page.locator("#live-state").inner_text() == "Live"
            page.wait_for_function(PLAYING, timeout=30_000)
    finally:
        stop_process(ffmpeg)
    assert not errors


def test_the_home_page_lists_the_live_stream_and_a_private_one_is_404(live_server: Any) -> None:
    public = a_live_stream(visibility="public", title="On air now")
    private = a_live_stream(visibility="private", title="Staff only")
    with chromium_page() as page:
        page.goto(live_server.url + "/")
        link = page.get_by_role("link", name="On air now")
        assert link.is_visible()
        assert page.get_by_role("link", name="Staff only").count() == 0

        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/live/{public.slug}")
        assert page.get_by_role("heading", name="On air now").is_visible()

        response = page.goto(f"{live_server.url}/live/{private.slug}")
        assert response is not None and response.status == 404


def test_the_watch_page_plays_the_ladder_the_streams_own_transcode_writes(
    live_server: Any,
) -> None:
    """The stream's job, run by the real runtime (lease, supervisor, confinement), writes
    the HLS ladder into hls_dir; the page plays it. (Its input is the job's test pattern
    here: the publish through nginx-rtmp is the ingest's to start.)"""
    job: StreamJob = StreamJobFactory()  # type: ignore[assignment]
    stream = LiveStream.objects.create(
        name="Ladder",
        slug="ladder-in-browser",
        job=job,
        latency_level=0,
        variants=[
            {"name": "240p", "width": 320, "height": 240, "video_bitrate_kbps": 300},
            {"name": "144p", "width": 192, "height": 144, "video_bitrate_kbps": 120},
        ],
    )
    LiveSession.objects.create(stream=stream, protocol="rtmp")
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    errors: list[str] = []
    try:
        wait_until(lambda: StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING)
        playlist = hls_dir(stream) / "144p" / "index.m3u8"
        wait_until(lambda: playlist.is_file() and playlist.read_text().count(".ts") >= 2, 30)
        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/live/{stream.slug}")
            page.wait_for_function(PLAYING, timeout=30_000)
            before = _current_time(page)
            page.wait_for_timeout(2_000)
            assert _current_time(page) > before + 1.0
    finally:
        stream_job_stop(actor=None, job=job)
        thread.join(15)
    assert thread.result == ExitReason.STOPPED
    assert not errors
