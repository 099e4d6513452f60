"""Editing a playing channel's restream outputs reaches its relay at once: a new target
gets the publish and the old one loses it; with no output left nothing publishes
(real nginx-rtmp receivers on loopback)."""

from __future__ import annotations

import http.server
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import Channel
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.services.channels import channel_update
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.tests.helpers import RunThread, start_supervised, wait_until
from workers.ffmpeg.tests.rtmp_server import RtmpServer, start_rtmp_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEY = "goodkey"


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[RtmpServer, RtmpServer]]:
    started: list[tuple[RtmpServer, subprocess.Popen[bytes], http.server.HTTPServer]] = []
    try:
        for name in ("old", "new"):
            (tmp_path / name).mkdir()
            started.append(start_rtmp_server(tmp_path / name, {KEY}))
        yield started[0][0], started[1][0]
    finally:
        for _server, proc, httpd in started:
            proc.terminate()
            proc.wait(timeout=10)
            httpd.shutdown()
            httpd.server_close()


def _publishing(server: RtmpServer) -> bool:
    """Whether someone publishes to the receiver: a play of the stream gets its streams
    (with no publisher nginx-rtmp holds the player until ffprobe's timeout)."""
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", "3000000", "-show_streams",
         server.publish_url(KEY)],
        capture_output=True, timeout=30,
    )  # fmt: skip
    return probed.returncode == 0 and b"codec_name" in probed.stdout


def _output(server: RtmpServer) -> dict[str, Any]:
    return {"kind": "rtmp", "url": server.app_url, "stream_key": KEY}


def _supervise_latest(job_id: int) -> RunThread:
    job = StreamJob.objects.get(pk=job_id)
    wait_until(lambda: StreamRun.objects.filter(job=job, state="pending").exists(), timeout=10)
    return start_supervised(job)


def test_a_changed_output_moves_the_publish_and_a_removed_one_ends_it(
    receivers: tuple[RtmpServer, RtmpServer], tmp_path: Path, settings: Any
) -> None:
    old, new = receivers
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"green": 30.0})
    channel = playing_channel()
    channel = channel_update(actor=None, channel=channel, outputs=[_output(old)])
    air(channel, timezone.now() - timedelta(seconds=1), [(items["green"], 30)] * 6)
    player = channel_start(actor=None, channel=channel)
    assert player.relay_job is not None
    relay_id = player.relay_job.pk
    threads = [start_supervised(StreamJob.objects.get(pk=player.job_id))]
    threads.append(start_supervised(StreamJob.objects.get(pk=relay_id)))
    try:
        wait_until(lambda: _publishing(old), timeout=40)

        channel = Channel.objects.get(pk=channel.pk)
        channel_update(actor=None, channel=channel, outputs=[_output(new)])
        threads.append(_supervise_latest(relay_id))  # its restart: a new run
        wait_until(lambda: _publishing(new), timeout=40)
        assert KEY in new.publish_attempts
        wait_until(lambda: not _publishing(old), timeout=30)
        # The same outputs sent back (a form saving every field): no reconnect.
        runs = StreamRun.objects.filter(job_id=relay_id).count()
        channel_update(actor=None, channel=Channel.objects.get(pk=channel.pk),
                       outputs=[_output(new)])  # fmt: skip
        assert StreamRun.objects.filter(job_id=relay_id).count() == runs

        channel_update(actor=None, channel=Channel.objects.get(pk=channel.pk), outputs=[])
        wait_until(lambda: StreamJob.objects.get(pk=relay_id).state == JobState.STOPPED, timeout=30)
        assert not _publishing(new)
        assert not _publishing(old)
        # The channel itself plays on.
        assert StreamJob.objects.get(pk=player.job_id).state == JobState.RUNNING
    finally:
        channel_stop(actor=None, channel=Channel.objects.get(pk=channel.pk))
        for thread in threads:
            thread.join(20)
