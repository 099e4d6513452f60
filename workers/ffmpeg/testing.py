"""Generate small real media with ffmpeg's lavfi sources, for tests and bench/.

Clips are tiny (160x120, 15 fps, 1 s) so a whole library takes a couple of
seconds. Every output goes through `file:` so odd names are written verbatim.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

FFMPEG = "ffmpeg"

# container -> (ffmpeg muxer, default video codec, default audio codec)
_CONTAINERS: dict[str, tuple[str, str, str]] = {
    "mp4": ("mp4", "libx264", "aac"),
    "m4v": ("mp4", "libx264", "aac"),
    "mov": ("mov", "libx264", "aac"),
    "mkv": ("matroska", "libx264", "libopus"),
    "webm": ("webm", "libvpx-vp9", "libopus"),
    "ts": ("mpegts", "libx264", "aac"),
    "avi": ("avi", "mpeg4", "libmp3lame"),
    "flv": ("flv", "libx264", "aac"),
}
_AUDIO: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "libmp3lame"),
    "m4a": ("ipod", "aac"),
    "aac": ("adts", "aac"),
    "wav": ("wav", "pcm_s16le"),
    "flac": ("flac", "flac"),
    "ogg": ("ogg", "libvorbis"),
}
# Speed over quality: these clips only need to be valid.
_CODEC_OPTS: dict[str, list[str]] = {
    "libx264": ["-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "libvpx-vp9": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"],
    "libvpx": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"],
    "mpeg4": ["-q:v", "8"],
}


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")


def _container_of(path: Path, container: str | None) -> str:
    name = (container or path.suffix.lstrip(".")).lower()
    if not name:
        raise ValueError(f"cannot tell the container of {path}; pass container=")
    return name


def make_video(
    path: str | os.PathLike[str],
    *,
    seconds: float = 1.0,
    codec: str | None = None,
    container: str | None = None,
    size: tuple[int, int] = (160, 120),
    rate: int | str = 15,  # or a fraction such as "30000/1001"
    with_audio: bool = True,
    audio_codec: str | None = None,
    faststart: bool = False,
    language: str | None = None,
) -> Path:
    """A clip of testsrc2 (and a sine tone); codec defaults per container."""
    out = Path(path).absolute()
    muxer, default_video, default_audio = _CONTAINERS[_container_of(out, container)]
    vcodec = codec or default_video
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={rate}:d={seconds}"]
    if with_audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}"]
    argv += ["-c:v", vcodec, *_CODEC_OPTS.get(vcodec, [])]
    if with_audio:
        argv += ["-c:a", audio_codec or default_audio, "-ac", "2"]
        if language:
            argv += ["-metadata:s:a:0", f"language={language}"]
    if faststart and muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    argv += ["-f", muxer, "file:" + str(out)]
    _run(argv)
    return out


def make_audio(
    path: str | os.PathLike[str],
    *,
    seconds: float = 1.0,
    container: str | None = None,
    codec: str | None = None,
    sample_rate: int = 44100,
    channels: int = 2,
) -> Path:
    out = Path(path).absolute()
    muxer, default_codec = _AUDIO[_container_of(out, container)]
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate={sample_rate}:d={seconds}"]
    argv += ["-c:a", codec or default_codec, "-ac", str(channels), "-f", muxer, "file:" + str(out)]
    _run(argv)
    return out


def make_corrupt(path: str | os.PathLike[str], *, mode: str = "garbage", seed: int = 7) -> Path:
    """An .mp4 that fails to probe.

    "garbage": the first 2 KiB of a real mp4 (a valid ftyp header) followed
    by random bytes. "truncated": a real mp4 cut in half; the moov atom sits
    at the end of a non-faststart mp4, so the index is gone.
    """
    out = Path(path).absolute()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_video(Path(tmp) / "clip.mp4", seconds=1.0, with_audio=False)
        data = clip.read_bytes()
    if mode == "garbage":
        rng = random.Random(seed)  # noqa: S311 - reproducible junk, not a secret
        data = data[:2048] + rng.randbytes(16 * 1024)
    elif mode == "truncated":
        data = data[: len(data) // 2]
    else:
        raise ValueError(f"unknown mode {mode!r}")
    out.write_bytes(data)
    return out


def make_zero_byte(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.write_bytes(b"")
    return out


def make_text_named_mp4(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.write_text("This is a shopping list, not a video.\n- milk\n- eggs\n", encoding="utf-8")
    return out


@dataclass
class Library:
    """What `make_library` created; relpaths are POSIX, relative to `root`."""

    root: Path
    outside: Path
    valid: dict[str, str] = field(default_factory=dict)  # relpath -> expected video codec or ""
    broken: dict[str, str] = field(default_factory=dict)  # relpath -> expected probe code
    ignored: set[str] = field(default_factory=set)  # hidden, non-media, symlinks

    @property
    def media(self) -> set[str]:
        """Everything a scan should list (and try to probe)."""
        return set(self.valid) | set(self.broken)


def make_library(root: str | os.PathLike[str], *, outside: Path | None = None) -> Library:
    """A small hostile library: several codecs and containers, broken files,
    odd names, hidden files and symlinks (inside and pointing outside).

    `outside` (default: a sibling folder `<root>-outside`) receives the real
    file the escaping symlink points at.
    """
    base = Path(root).absolute()
    base.mkdir(parents=True, exist_ok=True)
    out_dir = outside or base.with_name(base.name + "-outside")
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = Library(root=base, outside=out_dir)

    jobs: list[tuple[str, str, Callable[[Path], Path]]] = [
        ("clips/h264.mp4", "h264", lambda p: make_video(p, language="eng")),
        ("clips/mpeg4.avi", "mpeg4", lambda p: make_video(p)),
        ("clips/vp9.webm", "vp9", lambda p: make_video(p)),
        ("clips/stream.ts", "h264", lambda p: make_video(p)),
        ("clips/old.mov", "mpeg4", lambda p: make_video(p, codec="mpeg4", with_audio=False)),
        ("nested/deeper/inner.mkv", "h264", lambda p: make_video(p)),
        ("audio/tone.mp3", "", lambda p: make_audio(p)),
        ("audio/tone.flac", "", lambda p: make_audio(p)),
    ]
    for rel, _, _ in jobs:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
    (base / "broken").mkdir(exist_ok=True)
    # ffmpeg processes are independent; run them side by side to save time.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = [pool.submit(fn, base / rel) for rel, _, fn in jobs]
        broken_future = pool.submit(make_corrupt, base / "broken/corrupt.mp4")
        for fut in futures:
            fut.result()
        broken_future.result()
    lib.valid.update({rel: codec for rel, codec, _ in jobs})

    # Odd names are byte copies of a good clip: the point is the name.
    h264 = base / "clips/h264.mp4"
    mkv = base / "nested/deeper/inner.mkv"
    for rel in ("with spaces.mp4", "café 東京.mkv", 'it\'s "quoted".mp4', "-rf.mp4"):
        shutil.copyfile(mkv if rel.endswith(".mkv") else h264, base / rel)
        lib.valid[rel] = "h264"

    lib.broken["broken/corrupt.mp4"] = "probe.invalid_data"
    make_zero_byte(base / "broken/empty.mp4")
    lib.broken["broken/empty.mp4"] = "probe.empty"
    make_text_named_mp4(base / "broken/notes.mp4")
    lib.broken["broken/notes.mp4"] = "probe.invalid_data"

    shutil.copyfile(h264, base / ".hidden.mp4")
    (base / ".cache").mkdir(exist_ok=True)
    shutil.copyfile(h264, base / ".cache/secret.mp4")
    (base / "readme.txt").write_text("not media\n", encoding="utf-8")
    lib.ignored |= {".hidden.mp4", ".cache/secret.mp4", "readme.txt"}

    secret = out_dir / "outside.mp4"
    shutil.copyfile(h264, secret)
    for rel, target in (
        ("link_outside.mp4", secret),
        ("link_inside.mp4", Path("clips/h264.mp4")),
        ("linkdir", Path("nested")),
        ("escape_dir", out_dir),
    ):
        link = base / rel
        if link.is_symlink():
            link.unlink()
        os.symlink(target, link)
        lib.ignored.add(rel)
    return lib


__all__ = [
    "Library",
    "make_audio",
    "make_corrupt",
    "make_library",
    "make_text_named_mp4",
    "make_video",
    "make_zero_byte",
]
