"""kill -9 of the worker playing a channel: the engine's reconciler takes the run back and
the next worker starts the channel on the row that should be playing, at its offset."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play import conf
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.streams.models import RunState, StreamRun
from apps.streams.runtime.reconcile import reconcile_runs
from apps.streams.runtime.workdir import run_workdir
from apps.streams.tests.conftest import start_worker  # noqa: F401 (the fixture)
from apps.streams.tests.helpers import wait_until
from workers.ffmpeg.argv import PLAYLIST_FILE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3.0


@pytest.fixture
def var_dir(tmp_path: Path, settings: Any) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    return Path(settings.VAR_DIR)


@pytest.fixture
def worker(var_dir: Path, start_worker: Callable[..., subprocess.Popen[bytes]]) -> Any:  # noqa: F811
    env = {
        "CASTCORE_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "CASTCORE_STREAM_HEARTBEAT_SECONDS": "0.5",
        "CASTCORE_STREAM_RECONCILE_INTERVAL_SECONDS": "1",
    }
    return lambda: start_worker("channel", **env)


def _current_run(job_id: int, number: int) -> StreamRun | None:
    run = StreamRun.objects.filter(job_id=job_id, number=number).first()
    return run if run is not None and run.state == RunState.RUNNING and run.pid else None


def _first_entry(workdir: Path) -> tuple[str, float, datetime]:
    """The clip and inpoint the run's ffmpeg started with, and when its list was written."""
    listing = workdir / PLAYLIST_FILE
    text = listing.read_text()
    entry = re.search(r"^file '([^']+)'$", text, re.MULTILINE)
    inpoint = re.search(r"^inpoint ([0-9.]+)$", text, re.MULTILINE)
    assert entry and inpoint, text
    clip = Path(os.path.realpath(workdir / entry.group(1))).stem
    written = datetime.fromtimestamp(listing.stat().st_mtime, tz=UTC)
    return clip, float(inpoint.group(1)), written


def _assert_joined(rows: list[PlayoutRow], workdir: Path) -> tuple[PlayoutRow, float]:
    """The run started with the row scheduled when it started, at that offset.

    The worker computes the offset, then writes the list: the list's time is an upper
    bound, and a busy machine spends up to a second or so in between.
    """
    clip, inpoint, written = _first_entry(workdir)
    row = next(r for r in rows if clip == r.media_item.relpath.removesuffix(".mp4"))  # type: ignore[union-attr]
    latest = (written - row.start).total_seconds() + conf.START_LEAD_SECONDS
    assert 0 <= latest - inpoint < 1.5, (clip, inpoint, latest)
    return row, inpoint


def test_a_killed_workers_channel_resumes_on_the_right_row_and_offset(
    worker: Callable[[], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    colours = ("red", "green", "blue", "yellow")
    items = colour_library(tmp_path / "clips", dict.fromkeys(colours, 10.0))
    channel = playing_channel()
    rows = air(channel, timezone.now(), [(items[c], 9.0) for c in colours])
    first_worker = worker()
    player = channel_start(actor=None, channel=channel)
    first = wait_until(lambda: _current_run(player.job_id, 1), timeout=40)
    first_row, first_inpoint = _assert_joined(rows, run_workdir(player.job_id, 1))
    wait_until(lambda: (hls_dir(channel.pk) / "index.m3u8").is_file(), timeout=20)
    time.sleep(4)  # into the programme, past a segment or two

    os.kill(first_worker.pid, signal.SIGKILL)
    first_worker.wait(10)
    killed_at = time.monotonic()
    worker()  # the next worker on the host
    while not reconcile_runs().taken_back:  # beat's reconciler, as it would run
        assert time.monotonic() - killed_at < LEASE_SECONDS + 10
        time.sleep(0.5)
    second = wait_until(lambda: _current_run(player.job_id, first.number + 1), timeout=40)
    row, inpoint = _assert_joined(rows, run_workdir(player.job_id, second.number))
    # Later in the schedule than where the first run joined: not from the top again.
    assert (row.start, inpoint) > (first_row.start, first_inpoint + 4)

    # The HLS playlist goes on: a discontinuity, and segment numbers counting on.
    def resumed() -> bool:
        text = (hls_dir(channel.pk) / "index.m3u8").read_text()
        return "#EXT-X-DISCONTINUITY" in text

    wait_until(resumed, timeout=20)
    channel_stop(actor=None, channel=channel)
