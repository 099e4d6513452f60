"""`python -m castcore.serve castcore.asgi:application` alone runs stream jobs (embedded mode).

A real server process without DATABASE_URL/REDIS_URL (SQLite, filesystem broker,
in-process worker, in-memory channel layer), driven over real HTTP and WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import websockets

from castcore.tests.test_run_modes import (
    ROOT,
    embedded_env,
    free_port,
    stop,
    wait_for_health,
)

pytestmark = pytest.mark.slow

PASSWORD = "e2e-operator-password-9f3k"
CREATE_OPERATOR = (
    "from apps.accounts.models import User;"
    f"User.objects.create_user(username='op', password='{PASSWORD}', role='operator')"
)


def call(base: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL we built)
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if token
        else {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None


def ffmpeg_writing_to(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "ffmpeg" and str(directory) in cmdline:
            found.append(process)
    return found


async def first_live_status(url: str, job_id: int, timeout: float) -> dict[str, Any]:
    seen: list[str] = []
    async with websockets.connect(url, origin=websockets.Origin("http://127.0.0.1")) as ws:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            except TimeoutError:
                break
            seen.append(f"{frame['type']}:{frame.get('state')}:{frame.get('fps')}")
            if frame["type"] == "status" and frame["job_id"] == job_id and (frame["fps"] or 0) > 0:
                return dict(frame)
    raise AssertionError(f"no status frame with fps > 0 within {timeout} s; saw {seen[-20:]}")


def test_the_asgi_server_alone_runs_a_job_and_streams_its_status(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", CREATE_OPERATOR]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    hls = tmp_path / "hls"
    try:
        status, body = wait_for_health(f"{base}/api/v1/system/health")
        assert status == 200, body
        token = call(base, "POST", "/api/v1/auth/login", {"username": "op", "password": PASSWORD})[
            "access"
        ]
        profile = call(
            base, "POST", "/api/v1/ffmpeg-profiles",
            {"name": "small", "preset": "ultrafast", "video_bitrate_kbps": 300, "width": 320,
             "height": 240, "keyframe_interval_s": 1.0, "audio_bitrate_kbps": 64},
            token,
        )  # fmt: skip
        job = call(
            base, "POST", "/api/v1/stream-jobs",
            {"name": "e2e", "profile": profile["id"], "input_kind": "test_pattern",
             "input_pattern": "testsrc", "input_width": 320, "input_height": 240,
             "input_rate": 25, "realtime": True,
             "outputs": [{"kind": "hls", "url": str(hls)}]},
            token,
        )  # fmt: skip
        assert call(base, "POST", f"/api/v1/stream-jobs/{job['id']}/start", {}, token)["state"] in (
            "starting",
            "running",
        )

        ws_url = f"ws://127.0.0.1:{port}/api/v1/ws/status?token={token}"
        live = asyncio.run(first_live_status(ws_url, job["id"], timeout=20))
        assert live["state"] == "running" and live["fps"] > 0
        assert ffmpeg_writing_to(hls)
        deadline = time.monotonic() + 15  # the first 4 s segment, then the playlist
        while not (hls / "index.m3u8").exists():
            assert time.monotonic() < deadline, "no HLS playlist was written"
            time.sleep(0.3)

        call(base, "POST", f"/api/v1/stream-jobs/{job['id']}/stop", {}, token)
        deadline = time.monotonic() + 20
        while (
            state := call(base, "GET", f"/api/v1/stream-jobs/{job['id']}", None, token)["state"]
        ) != "stopped":
            assert time.monotonic() < deadline, f"job still {state}"
            time.sleep(0.3)
        deadline = time.monotonic() + 5
        while ffmpeg_writing_to(hls):
            assert time.monotonic() < deadline, "an ffmpeg of the job is still running"
            time.sleep(0.2)
    finally:
        stop(server)
        log.close()
        # pytest shows this only when the test failed: the server's side of the story.
        print((tmp_path / "server.log").read_text(errors="replace")[-6000:])
        for process in ffmpeg_writing_to(hls):  # never leave one behind, even on failure
            process.kill()
