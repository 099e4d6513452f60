"""Concurrent tuner streams (`/channels/{slug}/stream.ts`) of one channel, one web process.

    .venv/bin/python bench/channel_tuner.py [--clients 1,4,16] [--seconds 20]

Starts one `python -m castcore.serve castcore.asgi:application` (the real
`castcore.settings`, SQLite under a private temp VAR_DIR, no in-process worker), a
public always-on channel, and a plain ffmpeg writing HLS into the channel's folder as a
playing channel does (640x360 test pattern with sound, ~1 Mb/s, 2 s segments, the
channel's hlsenc flags). Prints the time to the first byte of a stream (the two
segments behind the live edge come at once), then, for each count in --clients, that
many clients reading the stream at once for --seconds: the bytes each received per
second against the channel's own rate (1.00: real time; the first two segments come at
once, so a little more), the web process's CPU (of one core) and its CPU per stream, and
its RSS. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.served import serve
from castcore.tests.test_run_modes import stop

MAKE_CHANNEL = """
from apps.channels.models import Channel
print(Channel.objects.create(number=1, name="Bench", slug="bench").pk)
"""


def play(folder: Path) -> subprocess.Popen[bytes]:
    """ffmpeg writing a channel's HLS, in real time, with the channel's hlsenc flags."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1000k", "-g", "50",
         "-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
         "-hls_flags", "delete_segments+independent_segments+append_list+discont_start"
         "+omit_endlist",
         "-hls_segment_filename", str(folder / "segment_%05d.ts"), str(folder / "index.m3u8")],
    )  # fmt: skip


def channel_rate(folder: Path) -> float:
    """The channel's bytes per second, from the segments listed now."""
    names = [n for n in (folder / "index.m3u8").read_text().splitlines() if n.endswith(".ts")]
    sizes = [(folder / n).stat().st_size for n in names if (folder / n).exists()]
    return sum(sizes) / (2.0 * len(sizes))


async def client(port: int, seconds: float, first: list[float]) -> int:
    """Reads the stream for `seconds`; returns the body bytes it got."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /channels/bench/stream.ts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"the stream answered {head!r}")
    got = 0
    deadline = started + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            break
        if not chunk:
            break
        if not got:
            first.append(time.monotonic() - started)
        got += len(chunk)
    writer.close()
    return got


async def round_of(port: int, count: int, seconds: float) -> tuple[list[int], list[float]]:
    first: list[float] = []
    got = await asyncio.gather(*(client(port, seconds, first) for _ in range(count)))
    return list(got), first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp) / "var"
        server, port, channel_id = serve(var_dir, MAKE_CHANNEL, LOG_LEVEL="WARNING")
        folder = var_dir / "outputs" / "channels" / str(channel_id)
        ffmpeg = play(folder)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                playlist = folder / "index.m3u8"
                if playlist.exists() and playlist.read_text().count("#EXTINF") >= 3:
                    break
                time.sleep(0.2)
            process = psutil.Process(server.pid)
            _, first = asyncio.run(round_of(port, 1, 1.0))  # the first request warms up
            _, first = asyncio.run(round_of(port, 3, 1.0))
            print(f"tuner_first_byte_ms={max(first) * 1000:.0f} (worst of 3, playing channel)")
            for count in [int(c) for c in args.clients.split(",")]:
                rate = channel_rate(folder)
                cpu = process.cpu_times()
                began = time.monotonic()
                got, _ = asyncio.run(round_of(port, count, args.seconds))
                took = time.monotonic() - began
                after = process.cpu_times()
                used = (after.user + after.system - cpu.user - cpu.system) / took
                ratios = sorted(g / args.seconds / rate for g in got)
                print(
                    f"tuner_streams={count} received_vs_channel_rate_min={ratios[0]:.2f} "
                    f"max={ratios[-1]:.2f} web_cpu={used * 100:.1f}% "
                    f"per_stream={used * 100 / count:.2f}% "
                    f"rss_mb={process.memory_info().rss / 2**20:.0f} "
                    f"(channel {rate * 8 / 1000:.0f} kb/s, {args.seconds:.0f} s)"
                )
        finally:
            ffmpeg.terminate()
            ffmpeg.wait(10)
            stop(server)


if __name__ == "__main__":
    main()
