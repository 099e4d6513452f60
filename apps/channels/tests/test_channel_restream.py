"""A playing channel also publishes to its restream outputs (a real nginx-rtmp on loopback),
through its relay job, and its stream key stays out of logs and the stream-jobs API."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.channels.models import ChannelOutput
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import air, colour_library, playing_channel
from apps.streams.models import StreamJob, StreamRun
from apps.streams.tests.helpers import start_supervised, wait_until
from workers.ffmpeg.tests.rtmp_server import RtmpServer, rtmp_server_fixture  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEY = "goodkey"


def test_a_channel_publishes_its_playout_to_a_restream_output(
    rtmp_server: RtmpServer, tmp_path: Path, settings: Any, operator_api: APIClient
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    items = colour_library(tmp_path / "clips", {"green": 30.0})
    channel = playing_channel()
    ChannelOutput.objects.create(channel=channel, kind="rtmp", url=rtmp_server.app_url,
                                 stream_key=KEY)  # fmt: skip
    air(channel, timezone.now() - timedelta(seconds=1), [(items["green"], 25)])
    player = channel_start(actor=None, channel=channel)
    assert player.relay_job is not None
    threads = [start_supervised(StreamJob.objects.get(pk=player.job_id))]
    job = StreamJob.objects.get(pk=player.relay_job.pk)
    threads.append(start_supervised(job))
    try:
        wait_until(
            lambda: (StreamRun.objects.filter(job=job).first() or StreamRun()).last_stats.get(
                "frames"
            ),
            timeout=30,
        )
        probed = subprocess.run(
            ["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json",
             rtmp_server.publish_url(KEY)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        assert probed.returncode == 0, probed.stderr
        streams = json.loads(probed.stdout)["streams"]
        assert {s["codec_name"] for s in streams} == {"h264", "aac"}
        shown = operator_api.get(f"/api/v1/stream-jobs/{job.pk}").json()
        assert shown["input_kind"] == "channel" and KEY not in json.dumps(shown)
        assert {o["kind"] for o in shown["outputs"]} == {"rtmp"}
        encoder = operator_api.get(f"/api/v1/stream-jobs/{player.job_id}").json()
        assert {o["kind"] for o in encoder["outputs"]} == {"hls"}
    finally:
        channel_stop(actor=None, channel=channel)
        for thread in threads:
            thread.join(20)
    run = StreamRun.objects.get(job=job)
    assert KEY not in json.dumps(run.log_tail)
