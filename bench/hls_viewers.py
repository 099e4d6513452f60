"""Concurrent HLS viewers of one live stream, served by one web process.

    .venv/bin/python bench/hls_viewers.py [--viewers 25,50,100,200] [--seconds 20]

Starts one `python -m castcore.serve castcore.asgi:application` (the real
`castcore.settings`, SQLite under a private temp VAR_DIR, no in-process worker),
a public live stream with an open session, and a plain ffmpeg writing its HLS
(320x180 test pattern with sound, 1 s segments: the lowest latency level's) into
the stream's folder. Then, for each count in --viewers, that many viewers at once,
each as a player does it: fetch the variant playlist every target duration, fetch
each segment it newly lists (starting with the last three), on a keep-alive
connection of its own, with a user agent of its own (so each is one viewer). A
segment is on time when its last byte arrived within one segment duration of the
playlist that listed it. Prints, per count: segments fetched, the share on time,
the p50/p95 fetch time, the web process's CPU (of one core) and its CPU per
viewer, and the count the watch page shows. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.served import serve
from castcore.tests.test_run_modes import stop

SEGMENT_SECONDS = 1.0
MAKE_STREAM = """
from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.tests.factories import StreamJobFactory
job = StreamJobFactory()
stream = LiveStream.objects.create(name="Bench", slug="bench", job=job, visibility="public")
LiveSession.objects.create(stream=stream, protocol="rtmp")
print(stream.pk)
"""


def write_hls(folder: Path) -> subprocess.Popen[bytes]:
    (folder / "v0").mkdir(parents=True, exist_ok=True)
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "400k",
        "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_list_size", "8",
        "-hls_flags", "delete_segments+independent_segments",
        "-master_pl_name", "index.m3u8", "-var_stream_map", "v:0,a:0,name:v0",
        "-hls_segment_filename", str(folder / "%v" / "segment_%05d.ts"),
        str(folder / "%v" / "index.m3u8"),
    ]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)


class Connection:
    """One keep-alive HTTP/1.1 connection, as a player keeps one."""

    def __init__(self, port: int, agent: str) -> None:
        self.port, self.agent = port, agent
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {self.agent}\r\n\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def viewer(port: int, slug: str, n: int, until: float, results: list[tuple[float, bool]]):
    await asyncio.sleep(random.random() * SEGMENT_SECONDS)  # players don't start in step
    connection = Connection(port, f"bench-viewer-{n}")
    seen: set[str] = set()
    first = True
    try:
        while time.monotonic() < until:
            listed_at = time.monotonic()
            status, body = await connection.get(f"/live/{slug}/v0/index.m3u8")
            if status != 200:
                await asyncio.sleep(SEGMENT_SECONDS)
                continue
            names = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
            new = [name for name in names if name not in seen]
            if first:
                new, first = new[-3:], False
            seen.update(names)
            for name in new:
                status, _ = await connection.get(f"/live/{slug}/v0/{name}")
                took = time.monotonic() - listed_at
                if status == 200:
                    results.append((took, took <= SEGMENT_SECONDS))
            await asyncio.sleep(max(0.0, listed_at + SEGMENT_SECONDS - time.monotonic()))
    finally:
        connection.close()


async def shown_count(port: int, slug: str) -> int:
    connection = Connection(port, "bench-status")
    try:
        _, body = await connection.get(f"/live/{slug}/status.json")
    finally:
        connection.close()
    import json

    return int(json.loads(body)["viewers"]) - 1  # the status poll counts itself


async def phase(port: int, slug: str, count: int, seconds: float, server: psutil.Process) -> bool:
    results: list[tuple[float, bool]] = []
    until = time.monotonic() + seconds
    tasks = [asyncio.create_task(viewer(port, slug, n, until, results)) for n in range(count)]
    await asyncio.sleep(SEGMENT_SECONDS * 3)  # every viewer started and caught up
    results.clear()
    cpu_before, wall_before = sum(server.cpu_times()[:2]), time.monotonic()
    await asyncio.sleep(max(0.0, until - time.monotonic() - SEGMENT_SECONDS))
    cpu = (sum(server.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
    shown = await shown_count(port, slug)
    await asyncio.gather(*tasks)
    on_time = sum(ok for _, ok in results)
    times = sorted(took for took, _ in results) or [0.0]
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    all_on_time = bool(results) and on_time == len(results)
    print(
        f"hls_viewers={count} segments={len(results)} on_time={on_time / max(len(results), 1):.1%}"
        f" fetch_p50_ms={statistics.median(times) * 1000:.0f} fetch_p95_ms={p95 * 1000:.0f}"
        f" web_cpu={cpu:.0%} web_cpu_per_viewer={cpu / count:.2%} counted={shown}",
        flush=True,
    )
    return all_on_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="25,50,100,200")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-hls-"))
    server, port, stream_id = serve(root / "var", MAKE_STREAM)
    ffmpeg = write_hls(root / "var" / "live" / str(stream_id))
    try:
        deadline = time.monotonic() + 30
        playlist = root / "var" / "live" / str(stream_id) / "v0" / "index.m3u8"
        while time.monotonic() < deadline and (
            not playlist.exists() or playlist.read_text().count("#EXTINF") < 4
        ):
            time.sleep(0.2)
        process = psutil.Process(server.pid)
        best = 0
        for count in (int(c) for c in args.viewers.split(",")):
            if asyncio.run(phase(port, "bench", count, args.seconds, process)):
                best = count
        print(f"hls_viewers_all_on_time_max={best} (of {args.viewers}; client on the same host)")
    finally:
        ffmpeg.terminate()
        ffmpeg.wait(timeout=10)
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
