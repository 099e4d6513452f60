"""A publisher for tests: ffmpeg sending a small lavfi test pattern with sound over RTMP."""

from __future__ import annotations

import subprocess


def publish(url: str, *, seconds: float | None = None) -> subprocess.Popen[bytes]:
    """ffmpeg publishing testsrc + sine at 320x180 to `url`, in real time, until killed."""
    duration = ["-t", str(seconds)] if seconds else []
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         *duration, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
         "-pix_fmt", "yuv420p", "-g", "25", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k",
         "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)
