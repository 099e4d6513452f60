"""A live stream's transcode, run by the real runtime: one ffmpeg writes the viewers' HLS
ladder and feeds a restream to a real nginx-rtmp with its top variant."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from apps.recordings.models import Recording
from apps.streams.live.paths import hls_dir
from apps.streams.models import ExitReason, JobState, LiveStream, OutputKind, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import OutputFactory, StreamJobFactory
from apps.streams.tests.helpers import run_row, start_supervised, wait_until
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VARIANTS = [
    {"name": "240p", "width": 320, "height": 240, "video_bitrate_kbps": 300},
    {"name": "144p", "width": 192, "height": 144, "video_bitrate_kbps": 120},
]


def probe(url: str) -> dict[str, dict[str, object]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    return {str(s["codec_type"]): s for s in json.loads(result.stdout)["streams"]}


def listed_segments(playlist: Path) -> list[str]:
    try:
        return [x for x in playlist.read_text().splitlines() if x.endswith(".ts")]
    except FileNotFoundError:
        return []


def test_a_live_transcode_writes_the_ladder_restreams_and_records_its_top_variant(
    rtmp_server: RtmpServer, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    job: StreamJob = StreamJobFactory(recording_enabled=True)  # type: ignore[assignment]
    OutputFactory(job=job, kind=OutputKind.RTMP, url=rtmp_server.app_url, stream_key="goodkey")
    stream = LiveStream.objects.create(
        name="Live", slug="live", job=job, variants=VARIANTS, latency_level=0
    )
    folder = hls_dir(stream)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: StreamJob.objects.get(pk=job.pk).state == JobState.RUNNING)
    wait_until(lambda: len(listed_segments(folder / "144p" / "index.m3u8")) >= 2, timeout=30)

    master = (folder / "index.m3u8").read_text()
    assert re.findall(r"\n(\S+/index\.m3u8)", master) == ["240p/index.m3u8", "144p/index.m3u8"]
    for name, size in (("240p", (320, 240)), ("144p", (192, 144))):
        segment = folder / name / listed_segments(folder / name / "index.m3u8")[-1]
        video = probe(str(segment))["video"]
        assert (video["width"], video["height"]) == size

    # The restream target receives the top variant while the ladder is written.
    streams = probe(rtmp_server.publish_url("goodkey"))
    assert (streams["video"]["width"], streams["video"]["height"]) == (320, 240)
    assert streams["audio"]["codec_name"] == "aac"

    # Progress and the measured bitrate work for a ladder job (its feed variant's segments).
    stats = wait_until(lambda: (s := run_row(job).last_stats).get("bitrate_kbps") and s)
    assert stats["bitrate_source"] == "written"
    assert 100 < stats["bitrate_kbps"] < 2000

    stream_job_stop(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.STOPPED
    assert "goodkey" not in json.dumps(run_row(job).log_tail)
    # The recording is the top variant too, and becomes a recording row.
    recording = Recording.objects.get(stream_job_id=job.pk)
    assert recording.has_video and recording.has_audio and recording.duration >= 1.5
    video = probe(recording.file.path)["video"]
    assert (video["width"], video["height"]) == (320, 240)
