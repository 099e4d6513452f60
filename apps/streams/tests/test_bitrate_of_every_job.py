"""Every job shows a measured bitrate, not only one that writes a single output.

ffmpeg's own `bitrate=` is N/A through a tee (two outputs, or one and the recording)
and to HLS: those runs read the video encoder's statistics instead, and a stream copy
the files it writes (workers/ffmpeg/bitrate.py). Real ffmpeg, real nginx-rtmp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.streams.models import ExitReason, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import (
    RunThread,
    copy_job,
    h264_file,
    run_row,
    start_supervised,
    wait_until,
)
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TARGET_KBPS = 1000


def cbr_job(*outputs: dict[str, Any], **fields: Any) -> StreamJob:
    # testsrc2 is busy enough for x264 to spend a 1000k budget even at 320x240.
    profile = new_profile(video_bitrate_kbps=TARGET_KBPS, **fields)
    return job_with_outputs(*outputs, profile=profile, input_pattern="testsrc2", realtime=True)


def status_of(api: APIClient, job: StreamJob) -> dict[str, Any]:
    response = api.get(f"/api/v1/stream-jobs/{job.pk}/status")
    assert response.status_code == 200
    return dict(response.json())


def metric_bitrate(api: APIClient, job: StreamJob) -> float | None:
    body = api.get("/api/v1/system/metrics").content.decode()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            name, job_id = sample.name, sample.labels.get("job_id")
            if name == "castcore_stream_job_bitrate_kbps" and job_id == str(job.pk):
                return float(sample.value)
    return None


def settled_bitrate(api: APIClient, job: StreamJob) -> dict[str, Any]:
    """The status once the run has played 4 s: the average is past its first keyframe."""
    return wait_until(
        lambda: (
            (s := status_of(api, job))["bitrate_kbps"] is not None
            and (s["out_time_s"] or 0) >= 4
            and s
        ),
        30,
    )


def near_target(kbps: float) -> bool:
    return abs(kbps - TARGET_KBPS) <= 0.3 * TARGET_KBPS


def stop(job: StreamJob, thread: RunThread) -> None:
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED


def assert_kept_after_the_run(api: APIClient, job: StreamJob) -> None:
    status = status_of(api, job)
    run = run_row(job)
    assert status["state"] == "stopped" and status["run_id"] == run.pk
    assert status["bitrate_kbps"] == run.last_stats["bitrate_kbps"]
    assert run.last_stats["bitrate_source"] == "encoder"  # what the figure counts
    assert near_target(status["bitrate_kbps"]), status
    assert run.position_s == pytest.approx(run.last_stats["out_time_s"], abs=0.01)


def test_a_restream_to_two_rtmp_outputs_shows_the_profiles_bitrate_while_running_and_after(
    viewer_api: APIClient, rtmp_server: RtmpServer
) -> None:
    job = cbr_job(
        {"url": rtmp_server.app_url, "stream_key": "goodkey"},
        {"url": rtmp_server.app_url, "stream_key": "otherkey"},
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        status = settled_bitrate(viewer_api, job)
        assert near_target(status["bitrate_kbps"]), status
        assert set(rtmp_server.publish_attempts) == {"goodkey", "otherkey"}
        # /metrics shows what the status shows (a heartbeat may store new figures between).
        wait_until(
            lambda: metric_bitrate(viewer_api, job) == status_of(viewer_api, job)["bitrate_kbps"],
            10,
        )
    finally:
        stop(job, thread)
    assert_kept_after_the_run(viewer_api, job)
    assert metric_bitrate(viewer_api, job) in (None, status_of(viewer_api, job)["bitrate_kbps"])


def test_an_hls_only_job_shows_the_profiles_bitrate_while_running_and_after(
    viewer_api: APIClient, tmp_path: Path
) -> None:
    job = cbr_job({"kind": "hls", "url": str(tmp_path / "hls"), "stream_key": ""})
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        status = settled_bitrate(viewer_api, job)
        assert near_target(status["bitrate_kbps"]), status
    finally:
        stop(job, thread)
    assert_kept_after_the_run(viewer_api, job)
    # ffmpeg's statistics go through a pipe: nothing of them is left to grow in a folder.
    assert not [p for p in (tmp_path / "hls").iterdir() if "vstats" in p.name]


def test_a_stream_copy_to_hls_shows_the_bitrate_of_the_segments_it_wrote(
    viewer_api: APIClient, tmp_path: Path
) -> None:
    # No encoder to ask: the segments written (4 s each) are what is measurable.
    job = copy_job(
        h264_file(tmp_path / "in.mkv"),
        {"kind": "hls", "url": str(tmp_path / "hls"), "stream_key": ""},
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        status = wait_until(
            lambda: (
                (s := status_of(viewer_api, job))["bitrate_kbps"] is not None
                and (s["out_time_s"] or 0) >= 9
                and s
            ),
            30,
        )
    finally:
        stop(job, thread)
    # Video and audio in MPEG-TS: a little over the file's own ~1064 kbit/s, and behind
    # by the segment still being written.
    assert 0.5 * TARGET_KBPS < status["bitrate_kbps"] < 1.5 * TARGET_KBPS, status
    assert run_row(job).last_stats["bitrate_source"] == "written"
    assert status_of(viewer_api, job)["bitrate_kbps"] is not None


def test_a_stream_copy_to_network_outputs_only_shows_no_bitrate(
    viewer_api: APIClient, tmp_path: Path, rtmp_server: RtmpServer
) -> None:
    # Nothing measures what a copy sends through a tee: null, never a guess.
    job = copy_job(
        h264_file(tmp_path / "in.mkv", seconds=10),
        {"url": rtmp_server.app_url, "stream_key": "goodkey"},
        {"url": rtmp_server.app_url, "stream_key": "otherkey"},
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        status = wait_until(
            lambda: ((s := status_of(viewer_api, job))["out_time_s"] or 0) >= 2 and s, 20
        )
    finally:
        stop(job, thread)
    assert status["fps"] is not None and status["bitrate_kbps"] is None
    assert run_row(job).last_stats["bitrate_source"] == "none"
