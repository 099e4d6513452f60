"""Live streams for the viewer-side tests: rows, sessions and HLS folders written by ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.live import viewers, viewing
from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.live.paths import hls_dir
from apps.streams.tests.factories import StreamJobFactory

_made = 0


@pytest.fixture(autouse=True)
def _live_folders(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """HLS folders under a temp VAR_DIR, and no viewer counted by another test."""
    settings.VAR_DIR = tmp_path_factory.mktemp("var")
    viewers.store().clear()
    viewing._recent.clear()


def a_live_stream(*, live: bool = True, **fields: Any) -> LiveStream:
    global _made
    _made += 1
    fields.setdefault("owner", UserFactory(role=Role.VIEWER))
    fields.setdefault("name", f"Live {_made}")
    fields.setdefault("slug", f"live-{_made}-{int(time.time() * 1000) % 100000}")
    job: Any = StreamJobFactory(owner=fields["owner"])
    stream = LiveStream.objects.create(job=job, **fields)
    if live:
        LiveSession.objects.create(stream=stream, protocol="rtmp")
    return stream


def end_session(stream: LiveStream) -> None:
    from django.utils import timezone

    LiveSession.objects.filter(stream=stream, ended_at__isnull=True).update(ended_at=timezone.now())


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180\nv0/index.m3u8\n"
)
MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
    "#EXTINF:2.000000,\nseg00007.ts\n#EXTINF:2.000000,\nseg00008.ts\n"
)


def write_static_hls(stream: LiveStream) -> Path:
    """A master, one variant playlist and its two segments (bytes, not video): for HTTP tests."""
    root = hls_dir(stream)
    (root / "v0").mkdir(parents=True, exist_ok=True)
    (root / "index.m3u8").write_text(MASTER)
    (root / "v0" / "index.m3u8").write_text(MEDIA)
    for n in (7, 8):
        (root / "v0" / f"seg{n:05d}.ts").write_bytes(b"\x47" + bytes(187) * 1)
    return root


def start_hls_ffmpeg(stream: LiveStream, *, segment_s: float = 1.0) -> subprocess.Popen[bytes]:
    """A real ffmpeg writing the stream's HLS (master + variant v0) from a lavfi test pattern
    with sound, in real time, deleting old segments: what the ladder's transcode writes."""
    root = hls_dir(stream)
    shutil.rmtree(root, ignore_errors=True)
    (root / "v0").mkdir(parents=True)
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "300k",
        "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", str(segment_s), "-hls_list_size", "6",
        "-hls_flags", "delete_segments+independent_segments",
        "-master_pl_name", "index.m3u8", "-var_stream_map", "v:0,a:0,name:v0",
        "-hls_segment_filename", str(root / "%v" / "seg%05d.ts"),
        str(root / "%v" / "index.m3u8"),
    ]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)


def wait_for_playlist(stream: LiveStream, *, segments: int = 2, timeout: float = 30.0) -> None:
    path = hls_dir(stream) / "v0" / "index.m3u8"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = path.is_file() and path.read_text().count("#EXTINF") >= segments
        if listed and (hls_dir(stream) / "index.m3u8").is_file():
            return
        time.sleep(0.2)
    raise AssertionError(f"no HLS playlist with {segments} segments in {timeout} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def off_the_browsers_thread(work: Callable[[], Any]) -> Any:
    """ORM work while a page is open: Playwright's sync API runs an event loop on this
    thread, where Django refuses database calls."""
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(work).result(timeout=60)
        pool.submit(connections.close_all).result(timeout=30)
    return result
