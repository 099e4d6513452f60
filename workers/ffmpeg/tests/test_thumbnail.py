"""make_thumbnail() against real files made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from workers.ffmpeg.testing import make_audio, make_corrupt, make_video
from workers.ffmpeg.thumbnail import ThumbnailError, make_thumbnail, seek_position


@pytest.fixture(scope="module")
def red_then_blue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s, red for the first 0.15 s then blue: the frame tells where we seeked."""
    path = tmp_path_factory.mktemp("thumb") / "red_then_blue.mp4"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
            "color=c=red:s=320x240:r=10:d=2,"
            "drawbox=c=blue:t=fill:enable='gte(t,0.15)'",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def _center(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as im:
        assert im.format == "JPEG"
        pixel = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def test_it_grabs_a_frame_ten_percent_in(red_then_blue: Path, tmp_path: Path) -> None:
    out = make_thumbnail(red_then_blue, tmp_path / "t.jpg", duration=2.0, width=160, timeout=10)
    r, _, b = _center(out)
    assert b > 200
    assert r < 60
    with Image.open(out) as im:
        assert im.size == (160, 120)


def test_unknown_duration_uses_the_first_frame(red_then_blue: Path, tmp_path: Path) -> None:
    out = make_thumbnail(red_then_blue, tmp_path / "t.jpg", duration=None, timeout=10)
    r, _, b = _center(out)
    assert r > 200
    assert b < 60


def test_it_never_upscales(red_then_blue: Path, tmp_path: Path) -> None:
    out = make_thumbnail(red_then_blue, tmp_path / "t.jpg", duration=2.0, width=1280, timeout=10)
    with Image.open(out) as im:
        assert im.size == (320, 240)


def test_a_seek_past_the_end_falls_back_to_the_start(red_then_blue: Path, tmp_path: Path) -> None:
    out = make_thumbnail(red_then_blue, tmp_path / "t.jpg", duration=500.0, timeout=10)
    assert out.stat().st_size > 0


def test_hostile_source_and_dest_names(red_then_blue: Path, tmp_path: Path) -> None:
    source = tmp_path / '-rf it\'s "q".mp4'
    source.write_bytes(red_then_blue.read_bytes())
    dest = tmp_path / "out dir" / "-%d café.jpg"
    assert make_thumbnail(source, dest, duration=2.0, timeout=10) == dest
    assert dest.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["-%d café.jpg"]


def test_failure_leaves_the_existing_thumbnail_and_no_temp_files(tmp_path: Path) -> None:
    broken = make_corrupt(tmp_path / "broken.mp4")
    dest = tmp_path / "thumbs" / "t.jpg"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(ThumbnailError) as exc:
        make_thumbnail(broken, dest, duration=1.0, timeout=10)
    assert exc.value.code == "thumbnail.failed"
    assert dest.read_bytes() == b"old"
    assert [p.name for p in dest.parent.iterdir()] == ["t.jpg"]


def test_audio_only_has_no_thumbnail(tmp_path: Path) -> None:
    audio = make_audio(tmp_path / "a.mp3")
    with pytest.raises(ThumbnailError) as exc:
        make_thumbnail(audio, tmp_path / "t.jpg", duration=1.0, timeout=10)
    assert exc.value.code == "thumbnail.no_video"


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(ThumbnailError) as exc:
        make_thumbnail(tmp_path / "nope.mp4", tmp_path / "t.jpg", duration=1.0)
    assert exc.value.code == "thumbnail.not_found"


def test_webm_source(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "c.webm", seconds=1.0)
    out = make_thumbnail(clip, tmp_path / "t.jpg", duration=1.0, width=80, timeout=10)
    with Image.open(out) as im:
        assert im.size == (80, 60)


def test_seek_position() -> None:
    assert seek_position(120.0) == 12.0
    assert seek_position(None) == 0.0
    assert seek_position(0) == 0.0
