"""Recording pages in headless Chromium: asciinema-player renders; a video plays with ranges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from apps.recordings.services import recording_create_video
from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.recordings.tests.factories import a_recording

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


def test_a_video_recording_plays_in_a_video_element(live_server: Any, tmp_path: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    source = tmp_path / "clip.webm"
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10",
         "-c:v", "libvpx", "-b:v", "200k", str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    owner = a_recording().owner
    recording = recording_create_video(owner=owner, file_path=source, title="Clip", duration=2.0)
    ranges: list[str] = []
    with chromium_page() as page:
        page.on(
            "request",
            lambda r: (
                ranges.append(r.headers.get("range", "")) if r.url.endswith(".webm") else None
            ),
        )

        page.goto(f"{live_server.url}/r/{recording.url_token}")

        page.wait_for_function(
            "() => { const v = document.querySelector('video#video');"
            " return v && v.readyState >= 1 && v.duration > 1.5 }",
            timeout=15_000,
        )
    assert any(value.startswith("bytes=") for value in ranges)
