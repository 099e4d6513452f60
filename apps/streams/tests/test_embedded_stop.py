"""SIGTERM to an embedded server (its worker runs inside) mid-stream: it stops within the stop
grace, leaves no ffmpeg, and the same server, started again, resumes the job at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from apps.streams.tests.test_embedded_mode_e2e import (
    CREATE_OPERATOR,
    PASSWORD,
    call,
    ffmpeg_writing_to,
)
from castcore.tests.test_run_modes import ROOT, embedded_env, free_port, stop, wait_for_health

pytestmark = pytest.mark.slow

STOP_GRACE_SECONDS = 3.0
EXIT_MARGIN_SECONDS = 10.0


def serve(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], Any]:
    out = log.open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return server, out


def wait_for_run(base: str, job_id: int, token: str, number: int, timeout: float) -> dict[str, Any]:
    """The job's run `number` once it is running (and the job with it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = call(base, "GET", f"/api/v1/stream-jobs/{job_id}/runs", None, token)["items"]
        job = call(base, "GET", f"/api/v1/stream-jobs/{job_id}", None, token)
        run = next((r for r in runs if r["number"] == number), None)
        if run and run["state"] == "running" and job["state"] == "running":
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {number} of job {job_id} not running within {timeout} s")


def test_sigterm_to_an_embedded_server_hands_the_job_over_to_its_next_start(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path / "var")
    env["CASTCORE_STREAM_STOP_GRACE_SECONDS"] = str(STOP_GRACE_SECONDS)
    for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", CREATE_OPERATOR]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    hls = tmp_path / "hls"
    server, out = serve(env, port, log)
    try:
        assert wait_for_health(f"{base}/api/v1/system/health")[0] == 200
        login = {"username": "op", "password": PASSWORD}
        token = call(base, "POST", "/api/v1/auth/login", login)["access"]
        profile = call(
            base, "POST", "/api/v1/ffmpeg-profiles",
            {"name": "small", "preset": "ultrafast", "video_bitrate_kbps": 300, "width": 320,
             "height": 240, "keyframe_interval_s": 1.0, "audio_bitrate_kbps": 64},
            token,
        )  # fmt: skip
        job = call(
            base, "POST", "/api/v1/stream-jobs",
            {"name": "handover", "profile": profile["id"], "input_kind": "test_pattern",
             "input_pattern": "testsrc", "input_width": 320, "input_height": 240,
             "input_rate": 25, "realtime": True, "reconnect_max_attempts": 0,
             "outputs": [{"kind": "hls", "url": str(hls)}]},
            token,
        )  # fmt: skip
        call(base, "POST", f"/api/v1/stream-jobs/{job['id']}/start", {}, token)
        wait_for_run(base, job["id"], token, 1, timeout=30)
        ffmpegs = ffmpeg_writing_to(hls)
        assert ffmpegs

        server.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        try:
            server.wait(STOP_GRACE_SECONDS + EXIT_MARGIN_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail("the embedded server did not stop within the stop grace after SIGTERM")
        print(f"embedded_exit_after_sigterm_s={time.monotonic() - sent_at:.2f}")
        assert not [p for p in ffmpegs if p.is_running() and p.status() != "zombie"]

        server, out2 = serve(env, port, log)
        out.close()
        out = out2
        assert wait_for_health(f"{base}/api/v1/system/health")[0] == 200
        restarted_at = time.monotonic()
        token = call(base, "POST", "/api/v1/auth/login", login)["access"]
        resumed = wait_for_run(base, job["id"], token, 2, timeout=20)
        print(f"embedded_resumed_after_restart_s={time.monotonic() - restarted_at:.2f}")
        runs = call(base, "GET", f"/api/v1/stream-jobs/{job['id']}/runs", None, token)["items"]
        first = next(r for r in runs if r["number"] == 1)
        assert (first["state"], first["exit_reason"]) == ("ended", "handover")
        assert resumed["reconnect_count"] == 0
        call(base, "POST", f"/api/v1/stream-jobs/{job['id']}/stop", {}, token)
    finally:
        stop(server)
        out.close()
        print(log.read_text(errors="replace")[-6000:])
        for process in ffmpeg_writing_to(hls):  # never leave one behind, even on failure
            process.kill()
