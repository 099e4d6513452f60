"""The served playlist's EXT-X-DISCONTINUITY-SEQUENCE with the real engine: each window's
ffmpeg joins hlsenc's playlist after an EXT-X-DISCONTINUITY, which rolls off the top
of the list; a client polling the playlist sees every segment keep its discontinuity
sequence number (RFC 8216, 6.2.2), and the value go up by the joins that rolled off."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.channels.play import conf
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.channels.tests.test_live_playlist import discontinuity_numbers
from apps.streams.models import StreamJob
from apps.streams.tests.helpers import start_supervised

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_polling_client_sees_joins_roll_off_with_numbers_kept(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    # Each ffmpeg plays 10 s, then the next joins: the list (six 2 s segments) holds a join or two.
    monkeypatch.setattr(conf, "WINDOW_SECONDS", 10)
    items = colour_library(tmp_path / "clips", {"red": 60.0})
    channel = playing_channel()
    air(channel, timezone.now() - timedelta(seconds=1), [(items["red"], 6.0)] * 30)
    player = channel_start(actor=None, channel=channel)
    thread = start_supervised(StreamJob.objects.get(pk=player.job_id))
    sequences: list[int] = []
    numbers: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 150
        while len(set(sequences)) < 3:  # two joins rolled off
            assert time.monotonic() < deadline, f"the sequence went {sequences}"
            response = Client().get(f"/channels/{channel.slug}/index.m3u8")
            if response.status_code == 200:  # not live for a moment between windows: 503
                sequence, served = discontinuity_numbers(response.content.decode())
                assert not sequences or sequence >= sequences[-1]  # never goes back
                sequences.append(sequence)
                for name, number in served.items():
                    assert numbers.setdefault(name, number) == number, name
            time.sleep(1)
    finally:
        channel_stop(actor=None, channel=channel)
        thread.join(20)
    # Each step is one join: never two at once, as a client polling the list sees them.
    steps = sorted(set(sequences))
    assert steps == list(range(steps[0], steps[0] + len(steps)))
    # The later segments are numbered past the earlier ones, by the joins between them.
    assert max(numbers.values()) >= min(numbers.values()) + 2
