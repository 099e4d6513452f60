"""Issue #18 shown end to end through CastCore's own ingest, with every real part.

A real ffmpeg publishes a lavfi test pattern with sound to CastCore's nginx-rtmp with the
stream's key; on_publish opens the session and starts the job; a real Celery worker runs
the ladder; headless Chromium plays `/live/{slug}` while ffprobe reads a segment of each
variant through the same URLs and a second nginx-rtmp receives the restream. The
publisher stops: the page goes offline once the grace is over; it returns: the page is
live again and the home page lists the stream. (PostgreSQL and Redis: the worker is
another process; skipped without them, as the other end-to-end tests.)
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.streams.live import conf as live_conf
from apps.streams.live import viewers
from apps.streams.live.models import LiveSession
from apps.streams.live.paths import hls_dir
from apps.streams.live.services import live_sessions_reconcile
from apps.streams.live.tests.conftest import Ingest
from apps.streams.live.tests.factories import live_stream
from apps.streams.live.tests.publisher import publish, stop
from apps.streams.models import JobState, RunState, StreamJob, StreamRun
from apps.streams.tests.helpers import wait_until
from apps.streams.tests.live_helpers import off_the_browsers_thread
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]

VARIANTS = [
    {"name": "180p", "width": 320, "height": 180, "video_bitrate_kbps": 250},
    {"name": "108p", "width": 192, "height": 108, "video_bitrate_kbps": 100},
]
PLAYING = """() => {
  const v = document.getElementById('live-video');
  return v && !v.hidden && v.currentTime > 1.5 && !v.paused;
}"""


def probe(url: str) -> dict[str, dict[str, Any]]:
    """ffprobe's streams of `url`, by codec type."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json", url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {str(s["codec_type"]): s for s in json.loads(result.stdout)["streams"]}


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return str(response.read().decode())


def uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def running_run(job_id: int) -> StreamRun | None:
    run = StreamRun.objects.filter(job_id=job_id).order_by("-number").first()
    return run if run is not None and run.state == RunState.RUNNING and run.pid else None


def job_state(job_id: int) -> str:
    return str(StreamJob.objects.get(pk=job_id).state)


class Beat:
    """The beat's live-session reconciler, every half second, on a thread of its own (the
    delayed end-after-grace task's queue has no worker here): it ends a session whose
    publisher stayed away longer than the grace."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from django.db import connections

        try:
            while not self._stop.wait(0.5):
                live_sessions_reconcile()
        finally:
            connections.close_all()

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_real_publish_plays_in_the_browser_goes_offline_after_the_grace_and_back(
    ingest: Ingest,
    start_worker: Callable[..., subprocess.Popen[bytes]],
    rtmp_server: RtmpServer,
    operator_user: Any,
    live_server: Any,
) -> None:
    start_worker("e2e", **ingest.worker_env())
    restream = {"kind": "rtmp", "url": rtmp_server.app_url, "stream_key": "goodkey"}
    stream, key = live_stream(
        operator_user, visibility="public", title="Test pattern on air", latency_level=0,
        variants=VARIANTS, outputs=[restream],
    )  # fmt: skip
    base = f"{live_server.url}/live/{stream.slug}"
    folder = hls_dir(stream)
    publisher = publish(ingest.publish_url(key))
    errors: list[str] = []
    try:
        wait_until(lambda: running_run(stream.job_id), timeout=60)
        playlists = [folder / str(variant["name"]) / "index.m3u8" for variant in VARIANTS]
        wait_until(
            lambda: all(p.is_file() and p.read_text().count(".ts") >= 2 for p in playlists), 40
        )

        # Each variant, through the viewers' URLs: a segment at the asked resolution.
        master = fetch(f"{base}/index.m3u8")
        assert "RESOLUTION=320x180" in master and "RESOLUTION=192x108" in master
        assert key not in master
        for variant, uri in zip(VARIANTS, uris(master), strict=True):
            assert uri.startswith(f"{variant['name']}/")
            segment = uris(fetch(f"{base}/{uri}"))[-1]
            directory = uri.rsplit("/", 1)[0]
            streams = probe(f"{base}/{directory}/{segment}")
            video = streams["video"]
            assert (video["width"], video["height"]) == (variant["width"], variant["height"])
            assert streams["audio"]["codec_name"] == "aac"

        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base)
            page.wait_for_function(PLAYING, timeout=40_000)
            before = float(page.evaluate("document.getElementById('live-video').currentTime"))

            # While the viewer watches, the second nginx-rtmp receives the restream.
            assert "goodkey" in rtmp_server.publish_attempts
            received = probe(rtmp_server.publish_url("goodkey"))
            assert {"video", "audio"} <= set(received)

            page.wait_for_timeout(2_000)
            after = float(page.evaluate("document.getElementById('live-video').currentTime"))
            assert after > before + 1.0  # it goes on playing
            # The page and its player's fetches are one viewer (the cookie goes with both);
            # ffprobe's fetches above were each a viewer of their own, without a cookie.
            assert viewers.viewer_count(stream.pk) >= 1

            with Beat():
                stop(publisher)
                stopped_at = time.monotonic()
                page.wait_for_selector("#live-offline:not([hidden])", timeout=30_000)
                offline_after = time.monotonic() - stopped_at
                assert page.locator("#live-state").inner_text() == "Offline"
                assert page.locator("#live-video").is_hidden()
                # Not before the grace: a publisher back within it would have continued.
                assert offline_after >= live_conf.GRACE_SECONDS - 0.5, offline_after
                print(f"publisher stopped to page offline: {offline_after:.1f} s")
                off_the_browsers_thread(
                    lambda: wait_until(
                        lambda: job_state(stream.job_id) == JobState.STOPPED, timeout=30
                    )
                )

            # The publisher returns: a new session, the job again, the page live again.
            publisher = publish(ingest.publish_url(key))
            page.wait_for_selector("#live-offline[hidden]", state="attached", timeout=40_000)
            assert page.locator("#live-state").inner_text() == "Live"
            page.wait_for_function(PLAYING, timeout=60_000)

            page.goto(live_server.url + "/")
            link = page.get_by_role("link", name="Test pattern on air")
            assert link.is_visible()
            link.click()
            page.wait_for_url(base)
            page.wait_for_function(PLAYING, timeout=40_000)
    finally:
        stop(publisher)
    sessions = list(LiveSession.objects.filter(stream=stream).order_by("pk"))
    assert len(sessions) == 2 and sessions[0].ended_at is not None
    assert not errors
