"""Headless Chromium plays a channel's page: the player runs on the channel's live HLS."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_the_channel_page_plays_the_channel(
    live_server: Any, tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"red": 30.0, "blue": 30.0})
    channel = playing_channel()
    air(channel, timezone.now() - timedelta(seconds=1), [(items["red"], 25), (items["blue"], 25)])
    player = channel_start(actor=None, channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    try:
        # Three segments listed: a player can start a few segments behind the live edge.
        wait_until(
            lambda: (
                (hls_dir(channel.pk) / "index.m3u8").read_text().count("#EXTINF") >= 3
                if (hls_dir(channel.pk) / "index.m3u8").is_file()
                else False
            ),
            timeout=40,
        )
        errors: list[str] = []
        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/channels/{channel.slug}")
            page.wait_for_function(
                "() => { const v = document.getElementById('channel-video');"
                " return v && v.readyState >= 3 && v.currentTime > 1.5 && !v.paused; }",
                timeout=30_000,
            )
            state = page.evaluate(
                "() => { const v = document.getElementById('channel-video');"
                " return {width: v.videoWidth, height: v.videoHeight, t: v.currentTime}; }"
            )
        assert not errors
        assert (state["width"], state["height"]) == (160, 90)
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
