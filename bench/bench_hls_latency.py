"""Publish-to-playlist latency of the HLS ladder, for each latency level.

A real publisher (ffmpeg, a paced lavfi pattern with sound, H.264 with a keyframe
every second) sends RTMP to a real nginx-rtmp on loopback; the ladder's ffmpeg (the
engine's argv, confined as the product runs it) reads it back and writes a passthrough
and a 180p variant. The bench polls each variant's playlist and notes when each
segment is first listed. A frame at media time t left the publisher at T0 + t (the
publisher paces with -re; T0 is taken just before it is started, so every figure
errs high by its start-up time); the segment holding it is listed at L; its latency
is L - (T0 + t). Segment media times are the sums of the listed EXTINFs (the ladder
starts its timeline at the publisher's first packet). The first segment is left out.

    .venv/bin/python bench/bench_hls_latency.py [--levels 0,1,2,3,4] [--segments 8]
"""

from __future__ import annotations

import argparse
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
from workers.ffmpeg.spec import (
    HlsLadderOutput,
    JobSpec,
    ProfileSpec,
    UrlInput,
    VariantSpec,
)
from workers.ffmpeg.supervisor import FFmpegProcess
from workers.ffmpeg.tests.rtmp_server import start_rtmp_server

RATE = 30
VARIANTS = (
    VariantSpec(name="source", passthrough=True, video_bitrate_kbps=800),
    VariantSpec(name="180p", height=180, video_bitrate_kbps=300),
)


def publisher(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
         "-re", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={RATE}",
         "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
         "-b:v", "800k", "-g", str(RATE), "-c:a", "aac", "-b:a", "96k",
         "-f", "flv", url],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def listed(playlist: Path) -> list[tuple[str, float]]:
    try:
        lines = playlist.read_text().splitlines()
    except OSError:
        return []
    out = []
    for index, line in enumerate(lines):
        if line.startswith("#EXTINF:") and index + 1 < len(lines):
            out.append((lines[index + 1], float(line[8:].rstrip(",").split(",")[0])))
    return out


def measure(level: int, segments: int, rtmp_url: str, tmp: Path) -> dict[str, list[float]]:
    seconds, window = latency_window(level)
    folder = tmp / f"level{level}"
    folder.mkdir()
    ladder = HlsLadderOutput(
        directory=str(folder), variants=VARIANTS, segment_seconds=seconds, list_size=window
    )
    spec = JobSpec(input=UrlInput(url=rtmp_url), profile=ProfileSpec(), outputs=(ladder,))
    workdir = tmp / f"work{level}"
    process = FFmpegProcess(
        build_argv(spec, workdir), cwd=str(workdir), confinement=confinement_for(spec, workdir)
    )
    process.start()
    time.sleep(0.5)  # the ladder waits on nginx for the stream, as it does for a publish
    t0 = time.time()
    source = publisher(rtmp_url)
    seen: dict[str, dict[str, tuple[float, float, float]]] = {v.name: {} for v in VARIANTS}
    deadline = t0 + seconds * (segments + 2) + 20
    try:
        while time.time() < deadline and min(len(s) for s in seen.values()) < segments + 1:
            now = time.time()
            for variant in VARIANTS:
                start = 0.0
                # Media times from the start: the playlist's window slides, so carry on
                # from segments seen before (names only go up within a run).
                known = seen[variant.name]
                for name, duration in listed(folder / variant.name / "index.m3u8"):
                    if name in known:
                        start = known[name][0] + known[name][1]
                        continue
                    known[name] = (start, duration, now)
                    start += duration
            time.sleep(0.02)
    finally:
        source.terminate()
        source.wait(10)
        process.stop(3)
    latencies: dict[str, list[float]] = {}
    for name, known in seen.items():
        frames = []
        for start, duration, at in sorted(known.values())[1 : segments + 1]:
            count = max(1, round(duration * RATE))
            frames += [at - (t0 + start + j / RATE) for j in range(count)]
        latencies[name] = frames
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="0,1,2,3,4")
    parser.add_argument("--segments", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hls-") as name:
        tmp = Path(name)
        (tmp / "nginx").mkdir()
        server, nginx, httpd = start_rtmp_server(tmp / "nginx", {"benchkey"})
        try:
            for level in (int(x) for x in args.levels.split(",")):
                seconds, window = latency_window(level)
                result = measure(level, args.segments, server.publish_url("benchkey"), tmp)
                for variant, frames in result.items():
                    if len(frames) < 2:
                        print(f"hls_latency level={level} variant={variant}: too few segments")
                        continue
                    p95 = statistics.quantiles(frames, n=20)[-1]
                    print(
                        f"hls_latency_s level={level} ({seconds} s x {window}) variant={variant} "
                        f"median={statistics.median(frames):.2f} p95={p95:.2f} "
                        f"(frames {len(frames)})"
                    )
        finally:
            nginx.terminate()
            nginx.wait(10)
            httpd.shutdown()


if __name__ == "__main__":
    main()
