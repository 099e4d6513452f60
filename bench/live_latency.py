"""Publish-to-playable latency of live streams, for each latency level.

    .venv/bin/python bench/live_latency.py [--levels 0,1,2,3,4] [--segments 12]

For each level: nginx-rtmp on loopback (workers/ffmpeg/tests/rtmp_server.py, with its
stand-in on_publish), a publisher (ffmpeg, a 384x216 lavfi test pattern with sound,
H.264 with a keyframe every second as a low-latency encoder sends, real time) and the
live stream's transcode as the engine runs it: the HLS ladder of the default variants
(apps.streams.live.ladder.DEFAULT_VARIANTS: the source passed through, and 360p) at the
level's segment length and window (workers.ffmpeg.ladder.latency_window), pulling from
nginx-rtmp, confined (workers.ffmpeg.confine), under the engine's supervisor.

The publisher burns its wall clock into each frame as it sends it: a row of 24
black/white blocks at the top, the centiseconds since it started, in binary (geq
after setpts=RTCTIME). The bench polls each variant playlist every 20 ms and notes when
a segment is first listed; afterwards it decodes the first and the last frame of each
segment and reads their clocks. A segment's latency is listed-at minus the publish
time of its first frame (every frame of it was published at least this long before it
became playable; the last frame's, the best case, is printed too). The first two
segments of each run (start-up, SKIP) are left out. Prints median and p95 per level and
variant. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.ladder import latency_window
from workers.ffmpeg.spec import HlsLadderOutput, JobSpec, ProfileSpec, UrlInput, VariantSpec
from workers.ffmpeg.supervisor import FFmpegProcess
from workers.ffmpeg.tests.rtmp_server import start_rtmp_server

BITS = 24
WIDTH, HEIGHT, BAND = 384, 216, 16  # 16 px per bit, a 16 px band at the top
KEY = "bench-latency"
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


def default_variants() -> tuple[VariantSpec, ...]:
    """The ladder a live stream gets when it names none (apps.streams.live.ladder)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "castcore.settings_test")
    import django

    django.setup()
    from apps.streams.live.ladder import DEFAULT_VARIANTS

    return DEFAULT_VARIANTS


def run_level(level: int, segments: int, tmp: Path) -> None:
    variants = default_variants()
    segment_s, list_size = latency_window(level)
    folder = tmp / f"level{level}"
    for variant in variants:
        (folder / variant.name).mkdir(parents=True, exist_ok=True)
    (tmp / f"nginx{level}").mkdir()
    server, nginx, httpd = start_rtmp_server(tmp / f"nginx{level}", {KEY})
    started = time.time()
    offset_us = int(started * 1_000_000)
    publish = publisher(server.publish_url(KEY), offset_us)
    time.sleep(1.0)  # on the air before the transcode pulls, as after on_publish
    spec = JobSpec(
        input=UrlInput(url=server.publish_url(KEY)),
        profile=ProfileSpec(),
        outputs=(
            HlsLadderOutput(
                directory=str(folder),
                variants=variants,
                segment_seconds=segment_s,
                list_size=list_size,
            ),
        ),
        realtime=False,
    )
    workdir = tmp / f"run{level}"
    workdir.mkdir()
    transcode = FFmpegProcess(
        build_argv(spec, workdir), cwd=str(workdir), confinement=confinement_for(spec, workdir)
    )
    transcode.start()
    listed: dict[tuple[str, str], float] = {}
    kept = tmp / f"kept{level}"
    kept.mkdir()
    until = time.monotonic() + (segments + SKIP + 1) * segment_s + 8
    try:
        while time.monotonic() < until:
            for variant in variants:
                playlist = folder / variant.name / "index.m3u8"
                try:
                    text = playlist.read_text()
                except OSError:
                    continue
                now = time.time()
                for line in text.splitlines():
                    if line and not line.startswith("#") and (variant.name, line) not in listed:
                        listed[(variant.name, line)] = now
                        # Kept for decoding after the run: hlsenc deletes it past the window.
                        with contextlib.suppress(OSError):
                            os.link(folder / variant.name / line, kept / f"{variant.name}-{line}")
            time.sleep(0.02)
        # Decode while the segments are still in the window: stop writing first.
        transcode.stop()
        transcode.wait(timeout=20)
    finally:
        publish.terminate()
        publish.wait(timeout=10)
        nginx.terminate()
        nginx.wait(timeout=10)
        httpd.shutdown()
    for variant in variants:
        firsts, lasts = [], []
        names = sorted(name for v, name in listed if v == variant.name)[SKIP:]
        for name in names:
            clocks = frame_clocks(kept / f"{variant.name}-{name}")
            if clocks is None:
                continue
            at = listed[(variant.name, name)] - started
            firsts.append(at - clocks[0])
            lasts.append(at - clocks[1])
            if os.environ.get("BENCH_VERBOSE"):
                print(f"  {variant.name}/{name}: listed {at:.2f} s, frames {clocks}")
        if not firsts:
            print(f"live_latency_level{level}_{variant.name}: no segment decoded")
            continue
        firsts.sort()
        p95 = firsts[min(len(firsts) - 1, int(len(firsts) * 0.95))]
        print(
            f"live_latency_level{level}_{variant.name}_median_s={statistics.median(firsts):.2f}"
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
        for level in (int(x) for x in args.levels.split(",")):
            run_level(level, args.segments, Path(tmp))


if __name__ == "__main__":
    main()
