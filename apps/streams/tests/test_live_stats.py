"""Live figures of a real run: REST status, the status socket, /metrics and the run row agree.

A real supervisor runs a lavfi test pattern into a file output. The job sets
`realtime` itself, so nothing here depends on the default pacing of inputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.streams import conf
from apps.streams.models import ExitReason, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import (
    RunThread,
    copy_job,
    h264_file,
    run_row,
    start_supervised,
    wait_until,
)
from castcore.asgi import application

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FIGURES = ("fps", "bitrate_kbps", "speed", "frames", "drops", "out_time_s")
LIVE = ("fps", "bitrate_kbps", "speed")


def file_job(tmp_path: Path) -> StreamJob:
    output = {"kind": "file", "url": str(tmp_path / "out.mkv"), "stream_key": ""}
    return job_with_outputs(output, realtime=True)


def status_of(api: APIClient, job: StreamJob) -> dict[str, Any]:
    response = api.get(f"/api/v1/stream-jobs/{job.pk}/status")
    assert response.status_code == 200
    return dict(response.json())


def figures(status: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(status[key] for key in FIGURES)


def metric_figures(api: APIClient, job: StreamJob) -> dict[str, float]:
    body = api.get("/api/v1/system/metrics").content.decode()
    names = {
        "castcore_stream_job_fps": "fps",
        "castcore_stream_job_bitrate_kbps": "bitrate_kbps",
        "castcore_stream_job_speed": "speed",
    }
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name in names and sample.labels.get("job_id") == str(job.pk):
                found[names[sample.name]] = sample.value
    return found


def stop(job: StreamJob, thread: RunThread) -> None:
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED


def test_rest_status_shows_bitrate_fps_and_speed_from_the_first_progress_not_the_heartbeat(
    viewer_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A heartbeat far away: only the first progress blocks themselves can fill the row soon.
    monkeypatch.setattr(conf, "HEARTBEAT_SECONDS", 30.0)
    monkeypatch.setattr(conf, "LEASE_SECONDS", 90.0)
    job = file_job(tmp_path)
    stream_job_start(actor=None, job=job)
    started = time.monotonic()
    thread = start_supervised(job)
    try:
        status = wait_until(
            lambda: (s := status_of(viewer_api, job))["bitrate_kbps"] is not None and s, 20
        )
        assert time.monotonic() - started < 20  # well before the first heartbeat (30 s)
        assert status["state"] == "running"
        assert status["fps"] is not None and status["speed"] is not None
        assert status["bitrate_kbps"] > 0 and status["out_time_s"] > 0
    finally:
        stop(job, thread)


def test_a_finished_run_keeps_its_last_stats_and_position(
    viewer_api: APIClient, tmp_path: Path
) -> None:
    job = file_job(tmp_path)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 2.5, 20)
    finally:
        stop(job, thread)

    run = run_row(job)
    assert run.exit_reason == ExitReason.STOPPED
    assert all(run.last_stats.get(key) is not None for key in FIGURES)
    assert run.last_stats["out_time_s"] >= 2.5 and run.last_stats["bitrate_kbps"] > 0
    # The test pattern cannot be resumed from a position, but the run still got this far.
    assert run.position_s == pytest.approx(run.last_stats["out_time_s"], abs=0.01)
    listed = viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/runs").json()["items"][0]
    assert listed["last_stats"] == run.last_stats and listed["position_s"] == run.position_s

    status = status_of(viewer_api, job)
    assert status["state"] == "stopped" and status["run_id"] == run.pk
    assert figures(status) == tuple(run.last_stats[key] for key in FIGURES)
    job.refresh_from_db()
    assert job.resume_position_s == 0.0  # a stopped test pattern starts over next time


def test_a_stream_copy_with_several_outputs_shows_the_bitrate_its_file_output_was_written_at(
    viewer_api: APIClient, tmp_path: Path
) -> None:
    # Two outputs make a tee: ffmpeg itself then reports bitrate=N/A for the whole run,
    # and a copy has no encoder to ask (bitrate.py): the file it writes is measured.
    udp = {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""}
    output = tmp_path / "out.mkv"
    job = copy_job(
        h264_file(tmp_path / "in.mkv", seconds=20),
        udp,
        {"kind": "file", "url": str(output), "stream_key": ""},
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        status = wait_until(
            lambda: (s := status_of(viewer_api, job))["bitrate_kbps"] is not None and s, 15
        )
    finally:
        stop(job, thread)
    # About the source's 1000 + 64 kbit/s; the file lags by what the muxer still buffers.
    assert 200 < status["bitrate_kbps"] < 2000
    assert output.stat().st_size > 0


def socket(user: Any) -> WebsocketCommunicator:
    path = f"/api/v1/ws/status?token={AccessToken.for_user(user)}"
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    return WebsocketCommunicator(application, path, headers=headers)


def hls_job(tmp_path: Path) -> StreamJob:
    # HLS: ffmpeg's own bitrate is N/A, the encoder's statistics give it (bitrate.py).
    output = {"kind": "hls", "url": str(tmp_path / "hls"), "stream_key": ""}
    return job_with_outputs(output, realtime=True)


@pytest.mark.asyncio
@pytest.mark.parametrize("make_job", [file_job, hls_job], ids=["muxer", "encoder"])
async def test_the_status_socket_and_metrics_agree_with_the_rest_status(
    viewer_api: APIClient, tmp_path: Path, make_job: Callable[[Path], StreamJob]
) -> None:
    job = await sync_to_async(make_job)(tmp_path)
    ws = socket(viewer_api.user)  # type: ignore[attr-defined]
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    sent: list[dict[str, Any]] = []

    async def read_frames() -> None:
        while True:
            frame = await ws.receive_json_from(timeout=30)
            if frame["type"] == "status" and frame["job_id"] == job.pk:
                sent.append(frame)

    reader = asyncio.ensure_future(read_frames())
    await sync_to_async(stream_job_start)(actor=None, job=job)
    thread = await sync_to_async(start_supervised)(job)
    get_status = sync_to_async(status_of)
    try:
        compared = 0
        deadline = time.monotonic() + 30
        while compared < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.7)
            rest = await get_status(viewer_api, job)
            if rest["state"] != "running" or rest["bitrate_kbps"] is None:
                continue
            metrics = await sync_to_async(metric_figures)(viewer_api, job)
            again = await get_status(viewer_api, job)
            if figures(again) != figures(rest):
                continue  # a heartbeat stored new figures between the reads: try again
            # What REST shows was sent to the socket (it may still be on its way).
            for _ in range(20):
                if figures(rest) in {figures(frame) for frame in sent}:
                    break
                await asyncio.sleep(0.1)
            assert figures(rest) in {figures(frame) for frame in sent}
            assert metrics == {key: rest[key] for key in LIVE}
            compared += 1
        assert compared == 4
    finally:
        await sync_to_async(stream_job_stop)(actor=None, job=job)
        await asyncio.to_thread(thread.join, 20)
    assert thread.result == ExitReason.STOPPED

    rest = await get_status(viewer_api, job)
    for _ in range(50):
        if sent and sent[-1]["state"] == "stopped":
            break
        await asyncio.sleep(0.1)
    reader.cancel()
    await ws.disconnect()
    last = sent[-1]
    assert last["state"] == rest["state"] == "stopped"
    assert figures(last) == figures(rest) and rest["bitrate_kbps"] is not None
