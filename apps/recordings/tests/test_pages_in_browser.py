"""Recording pages in headless Chromium: asciinema-player renders; a video plays with ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.recordings.models import Recording
from apps.recordings.services import recording_create_video
from apps.recordings.tests.asgi_server import AsgiServer
from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.recordings.tests.factories import a_recording
from workers.ffmpeg.tests.test_playable import make_engine_recording
from workers.recordings import make_recording_playable

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_a_terminal_recording_plays_in_asciinema_player(live_server: Any) -> None:
    recording = a_recording(visibility="public")
    errors: list[str] = []
    with chromium_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        page.goto(f"{live_server.url}/r/{recording.pk}")

        page.wait_for_selector("#player .ap-wrapper", timeout=15_000)
        assert page.locator("#player .ap-player").count() == 1
        # The player fetched the .cast file and knows its duration.
        page.wait_for_function(
            "() => window.castPlayer && window.castPlayer.getDuration() > 1", timeout=15_000
        )
    assert not errors


def a_playable_engine_recording(tmp_path: Path) -> Recording:
    """What a stream job records (Matroska, H.264 + AAC), handed over as apps.streams
    does, then made playable as the worker does."""
    source = make_engine_recording(tmp_path / "run" / "recording-000.mkv")
    owner = a_recording().owner
    recording = recording_create_video(owner=owner, file_path=source, title="Clip", duration=4.0)
    make_recording_playable(recording.pk)
    return recording


def assert_it_plays(base_url: str, recording: Recording) -> None:
    statuses: list[tuple[int, str]] = []
    errors: list[str] = []
    with chromium_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "response",
            lambda r: (
                statuses.append((r.status, r.request.headers.get("range", "")))
                if r.url.endswith("/video.mp4")
                else None
            ),
        )

        page.goto(f"{base_url}/r/{recording.url_token}")

        # Decoded: a frame is there to show, with the video's own size.
        page.wait_for_function(
            "() => { const v = document.querySelector('video#video');"
            " return v && v.readyState >= 2 && v.videoWidth > 0 }",
            timeout=20_000,
        )
        shown = page.evaluate(
            "() => { const v = document.querySelector('video#video');"
            " return [v.videoWidth, v.videoHeight, v.duration, v.poster, v.currentSrc] }"
        )
        page.evaluate("() => { const v = document.querySelector('video#video');"
                      " v.muted = true; return v.play() }")  # fmt: skip
        page.wait_for_function(
            "() => document.querySelector('video#video').currentTime > 0.5", timeout=20_000
        )
    assert shown[:2] == [320, 240] and abs(shown[2] - 4.0) < 0.3
    assert shown[3].endswith(f"/r/{recording.url_token}/poster.jpg")
    # The fragmented MP4 copy, not the Matroska original (which other browsers cannot play).
    assert shown[4].endswith(f"/r/{recording.url_token}/video.mp4")
    assert any(status == 206 and ranged.startswith("bytes=") for status, ranged in statuses)
    assert not errors


def test_a_matroska_video_recording_plays_in_chromium(live_server: Any, tmp_path: Path) -> None:
    assert_it_plays(live_server.url, a_playable_engine_recording(tmp_path))


def test_a_matroska_video_recording_plays_in_chromium_served_by_daphne(
    asgi_server: AsgiServer, tmp_path: Path
) -> None:
    # The production server (python -m castcore.serve): ranges go out through the async body.
    assert_it_plays(asgi_server.url, a_playable_engine_recording(tmp_path))
