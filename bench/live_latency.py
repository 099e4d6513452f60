"""Publish-to-playable latency of live streams through CastCore's own ingest, per level.

    .venv/bin/python bench/live_latency.py [--levels 0,1,2,3,4] [--segments 12]

One `python -m castcore.serve` in embedded mode (real `castcore.settings`, SQLite under a
temp VAR_DIR, its own worker): it writes and supervises nginx-rtmp, answers its
on_publish, opens the session and starts the stream's job, whose transcode (the engine's
supervisor, confinement and address policy) pulls the publish back from nginx-rtmp and
writes the HLS ladder. Per level, a live stream made through the API (the default ladder:
the source passed through, and 360p; the level's segment length and window) and a
publisher (ffmpeg, a 384x216 lavfi test pattern with sound, H.264 with a keyframe every
second as a low-latency encoder sends, real time) sending RTMP with the stream's key.

The publisher burns its wall clock into each frame as it sends it: a row of 24
black/white blocks at the top, the centiseconds since it started, in binary (geq
after setpts=RTCTIME). The bench polls each variant playlist every 20 ms and notes when
a segment is first listed; afterwards it decodes the first and the last frame of each
segment and reads their clocks. A segment's latency is listed-at minus the publish
time of its first frame (every frame of it was published at least this long before it
became playable; the last frame's, the best case, is printed too). The first segments
of each run (start-up, SKIP) are left out. Prints median and p95 per level and
variant, and the time from the publish to the first segment listed (on_publish, the
job's start on the worker, the transcode's first segment). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workers.ffmpeg.ladder import latency_window
from workers.ffmpeg.tests.rtmp_server import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = secrets.token_urlsafe(16)  # the throwaway operator of the temp database

BITS = 24
WIDTH, HEIGHT, BAND = 384, 216, 16  # 16 px per bit, a 16 px band at the top
# Segments of the start-up left out: the transcode's first segments hold the GOP
# nginx-rtmp had buffered and the encoders' warm-up, not the steady state viewers see.
SKIP = 3


def publisher(url: str, offset_us: int) -> subprocess.Popen[bytes]:
    clock = f"(RTCTIME-{offset_us})/(TB*1000000)"
    bit = f"mod(floor(floor(T*100)/pow(2,floor(X/{WIDTH // BITS}))),2)"
    # geq only on the band (a per-pixel expression over the whole frame costs a core).
    video = (
        f"setpts={clock},format=yuv420p,split[frame][top];"
        f"[top]crop={WIDTH}:{BAND}:0:0,geq=lum='if({bit},235,16)':cb=128:cr=128[band];"
        "[frame][band]overlay=0:0"
    )
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-filter_complex", f"[0:v]{video}[v];[1:a]asetpts={clock}[a]", "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "1200k",
        "-c:a", "aac", "-b:a", "96k", "-f", "flv", url,
    ]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)


def frame_clocks(segment: Path) -> tuple[float, float] | None:
    """(first, last) frame's burned-in clock, in seconds since the publisher started."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(segment), "-an",
         "-vf", f"crop=iw:2:0:ih*{BAND // 2}/{HEIGHT},scale={BITS}:1:flags=area,format=gray",
         "-f", "rawvideo", "-"],
        capture_output=True, check=False,
    ).stdout  # fmt: skip
    frames = [out[i : i + BITS] for i in range(0, len(out) - BITS + 1, BITS)]
    if not frames:
        return None

    def read(row: bytes) -> float:
        return sum(1 << i for i, value in enumerate(row) if value > 128) / 100

    return read(frames[0]), read(frames[-1])


class Server:
    """The embedded server: nginx-rtmp, its callbacks, the API and the worker in one."""

    def __init__(self, tmp: Path) -> None:
        self.var = tmp / "var"
        self.port, self.rtmp, control = free_port(), free_port(), free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CASTCORE_FERNET_KEYS"}
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="castcore.settings",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
            SECRET_KEY="bench-" + secrets.token_hex(24),
            CASTCORE_VAR_DIR=str(self.var),
            CASTCORE_RTMP_PORT=str(self.rtmp),
            CASTCORE_RTMP_BIND="127.0.0.1",
            CASTCORE_RTMP_CONTROL_PORT=str(control),
            CASTCORE_RTMP_CALLBACK_URL=f"http://127.0.0.1:{self.port}",
            # A level's stream ends soon after its publisher, so the next level has the cores.
            CASTCORE_LIVE_GRACE_SECONDS="2",
            CASTCORE_LIVE_RECONCILE_INTERVAL_SECONDS="1",
        )
        create = (
            "from apps.accounts.models import User;"
            f"User.objects.create_user(username='bench', password='{PASSWORD}', role='operator')"
        )
        for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", create]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT, env=self.env, check=True, timeout=300,
            )  # fmt: skip
        self.log = (tmp / "server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(self.port),
             "castcore.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = ""
        try:
            self._ready()
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> None:
        deadline = time.monotonic() + 60
        while not self.token:
            try:
                body = {"username": "bench", "password": PASSWORD}
                self.token = self.call("POST", "/api/v1/auth/login", body)["access"]
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.5)
        wait_for_port(self.rtmp, timeout=20)
        self.profile = self.call(
            "POST", "/api/v1/ffmpeg-profiles",
            {"name": "bench", "preset": "veryfast", "video_bitrate_kbps": 1200,
             "keyframe_interval_s": 1.0, "audio_bitrate_kbps": 96},
        )["id"]  # fmt: skip

    def call(self, method: str, path: str, body: object = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the loopback server started here)
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def variant_names(master: Path, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            lines = master.read_text().splitlines()
            names = [x.split("/", 1)[0] for x in lines if x and not x.startswith("#")]
            if names:
                return names
        time.sleep(0.02)
    raise TimeoutError(f"no master playlist at {master} in {timeout} s")


def run_level(server: Server, level: int, segments: int, tmp: Path) -> None:
    segment_s, _ = latency_window(level)
    stream = server.call(
        "POST", "/api/v1/live-streams",
        {"name": f"Bench level {level}", "slug": f"bench-level-{level}",
         "profile": server.profile, "latency_level": level},
    )  # fmt: skip
    folder = server.var / "live" / str(stream["id"])
    url = f"rtmp://127.0.0.1:{server.rtmp}/live/{stream['ingest_key']}"
    started = time.time()
    publish = publisher(url, int(started * 1_000_000))
    listed: dict[tuple[str, str], float] = {}
    kept = tmp / f"kept{level}"
    kept.mkdir()
    try:
        variants = variant_names(folder / "index.m3u8")
        until = time.monotonic() + (segments + SKIP + 1) * segment_s + 8
        while time.monotonic() < until:
            for name in variants:
                try:
                    text = (folder / name / "index.m3u8").read_text()
                except OSError:
                    continue
                now = time.time()
                for line in text.splitlines():
                    if line and not line.startswith("#") and (name, line) not in listed:
                        listed[(name, line)] = now
                        # Kept for decoding after the run: hlsenc deletes it past the window.
                        with contextlib.suppress(OSError):
                            os.link(folder / name / line, kept / f"{name}-{line}")
            time.sleep(0.02)
    finally:
        publish.terminate()
        publish.wait(timeout=10)
    # The session ends after the grace and the job stops: the next level has the cores.
    job = f"/api/v1/stream-jobs/{stream['job']}"
    deadline = time.monotonic() + 60
    while server.call("GET", job)["state"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.5)
    if listed:
        first = min(listed.values()) - started
        print(f"live_first_segment_level{level}_s={first:.2f} (publish to first segment listed)")
    for name in variants:
        firsts, lasts = [], []
        names = sorted(n for v, n in listed if v == name)[SKIP:]
        for segment in names:
            clocks = frame_clocks(kept / f"{name}-{segment}")
            if clocks is None:
                continue
            at = listed[(name, segment)] - started
            firsts.append(at - clocks[0])
            lasts.append(at - clocks[1])
            if os.environ.get("BENCH_VERBOSE"):
                print(f"  {name}/{segment}: listed {at:.2f} s, frames {clocks}")
        if not firsts:
            print(f"live_latency_level{level}_{name}: no segment decoded")
            continue
        firsts.sort()
        p95 = firsts[min(len(firsts) - 1, int(len(firsts) * 0.95))]
        print(
            f"live_latency_level{level}_{name}_median_s={statistics.median(firsts):.2f}"
            f" p95_s={p95:.2f} (segments of {segment_s} s, {len(firsts)} measured;"
            f" last frame median {statistics.median(lasts):.2f} s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="0,1,2,3,4")
    parser.add_argument("--segments", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        server = Server(Path(tmp))
        try:
            for level in (int(x) for x in args.levels.split(",")):
                run_level(server, level, args.segments, Path(tmp))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
