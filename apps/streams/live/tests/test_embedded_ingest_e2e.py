"""The embedded mode alone takes a live publish: `python -m castcore.serve` starts and
supervises nginx-rtmp, authorises the publish, runs the transcode in its own worker,
ends the session after the grace, and leaves no nginx behind when it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from apps.streams.live.nginx import nginx_rtmp_installed
from apps.streams.live.tests.publisher import publish
from apps.streams.live.tests.publisher import stop as stop_publisher
from apps.streams.tests.test_embedded_mode_e2e import CREATE_OPERATOR, PASSWORD, call
from castcore.tests.test_run_modes import ROOT, embedded_env, free_port, stop, wait_for_health

pytestmark = pytest.mark.slow


def nginx_of(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if p.name() == "nginx"]


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_the_embedded_server_supervises_nginx_and_takes_a_publish(tmp_path: Path) -> None:
    if not nginx_rtmp_installed():
        pytest.skip("nginx with the rtmp module is not installed")
    port, rtmp, control = free_port(), free_port(), free_port()
    env = {
        **embedded_env(tmp_path / "var"),
        "CASTCORE_RTMP_PORT": str(rtmp),
        "CASTCORE_RTMP_BIND": "127.0.0.1",
        "CASTCORE_RTMP_CONTROL_PORT": str(control),
        "CASTCORE_RTMP_CALLBACK_URL": f"http://127.0.0.1:{port}",
        "CASTCORE_LIVE_GRACE_SECONDS": "2",
        "CASTCORE_LIVE_RECONCILE_INTERVAL_SECONDS": "1",
    }
    for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", CREATE_OPERATOR]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300
        )
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    publisher = None
    try:
        status, body = wait_for_health(f"{base}/api/v1/system/health")
        assert status == 200, body
        first_nginx = wait(lambda: nginx_of(server), 10, "nginx started by the server")
        token = call(base, "POST", "/api/v1/auth/login", {"username": "op", "password": PASSWORD})[
            "access"
        ]
        health = call(base, "GET", "/api/v1/system/health", None, token)
        assert health["checks"]["nginx_rtmp"]["detail"]["running"] is True
        profile = call(
            base, "POST", "/api/v1/ffmpeg-profiles",
            {"name": "small", "preset": "ultrafast", "video_bitrate_kbps": 300, "width": 320,
             "height": 180, "keyframe_interval_s": 1.0, "audio_bitrate_kbps": 64},
            token,
        )  # fmt: skip
        stream = call(
            base, "POST", "/api/v1/live-streams",
            {"name": "Embedded", "slug": "embedded", "profile": profile["id"], "latency_level": 0,
             "variants": [{"name": "180p", "height": 180, "video_bitrate_kbps": 200}]},
            token,
        )  # fmt: skip
        key, path = stream["ingest_key"], f"/api/v1/live-streams/{stream['id']}"

        publisher = publish(f"rtmp://127.0.0.1:{rtmp}/live/{key}")
        live = wait(
            lambda: (s := call(base, "GET", path, None, token))["state"] == "live" and s,
            20, "the stream live",
        )  # fmt: skip
        assert live["session"]["protocol"] == "rtmp"
        job_path = f"/api/v1/stream-jobs/{stream['job']}"
        wait(lambda: call(base, "GET", job_path, None, token)["state"] == "running", 40, "running")
        master = tmp_path / "var" / "live" / str(stream["id"]) / "index.m3u8"
        wait(master.is_file, 30, "the HLS master playlist")

        # nginx killed: the server starts it again.
        os.kill(first_nginx[0].pid, signal.SIGKILL)
        wait(lambda: (n := nginx_of(server)) and n[0].pid != first_nginx[0].pid, 15, "nginx again")

        stop_publisher(publisher)  # gone for good: after the grace the session ends
        publisher = None
        wait(lambda: call(base, "GET", path, None, token)["state"] == "offline", 30, "offline")
        wait(lambda: call(base, "GET", job_path, None, token)["state"] == "stopped", 30, "stop")
        sessions = call(base, "GET", f"{path}/sessions", None, token)["items"]
        assert len(sessions) == 1 and sessions[0]["ended_at"]
    finally:
        if publisher is not None:
            stop_publisher(publisher)
        nginx = nginx_of(server)
        stop(server)
        log.close()
    # Stopped with the server: no nginx left behind.
    wait(lambda: not any(p.is_running() and p.status() != "zombie" for p in nginx), 10, "gone")
