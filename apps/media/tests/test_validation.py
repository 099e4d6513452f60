"""validate_asset() on real images (Pillow) and real video (ffmpeg)."""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from apps.media.validation import AssetKind, AssetRejected, ValidatedAsset, validate_asset
from workers.ffmpeg.probe import probe
from workers.ffmpeg.testing import make_audio, make_corrupt, make_video

MB = 1024 * 1024


def _png(size: tuple[int, int] = (64, 32), mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "red").save(buf, "PNG", **save)
    return buf.getvalue()


def _jpeg_with_exif(size: tuple[int, int] = (64, 32), orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0132] = "2024:01:01 12:00:00"  # DateTime
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.new("RGB", size, "green").save(buf, "JPEG", exif=exif, comment=b"secret comment")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes that claim width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _validate(data: bytes | Iterator[bytes], workdir: Path, **kw: object) -> ValidatedAsset:
    kw.setdefault("declared_name", "upload.bin")
    kw.setdefault("kind", AssetKind.IMAGE)
    kw.setdefault("max_bytes", 5 * MB)
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return validate_asset(stream, workdir=workdir, **kw)  # type: ignore[arg-type]


def _rejected(data: bytes | Iterator[bytes], workdir: Path, **kw: object) -> AssetRejected:
    with pytest.raises(AssetRejected) as exc:
        _validate(data, workdir, **kw)
    assert list(workdir.iterdir()) == []  # nothing left behind
    return exc.value


def test_png_is_accepted_and_described(tmp_path: Path) -> None:
    asset = _validate(_png(), tmp_path, declared_name="../../etc/Logo Final.PNG")
    assert (asset.kind, asset.mime, asset.ext) == (AssetKind.IMAGE, "image/png", "png")
    assert (asset.width, asset.height, asset.duration) == (64, 32, None)
    assert asset.name == "Logo Final.png"
    assert asset.sha256 == hashlib.sha256(asset.path.read_bytes()).hexdigest()
    assert asset.size == asset.path.stat().st_size
    with Image.open(asset.path) as im:
        assert (im.format, im.size) == ("PNG", (64, 32))


def test_png_text_and_icc_are_stripped_and_alpha_kept(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 48.85,2.35")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    asset = _validate(_png(mode="RGBA", pnginfo=info, icc_profile=icc), tmp_path)
    data = asset.path.read_bytes()
    assert b"GPS" not in data
    assert b"iCCP" not in data
    with Image.open(asset.path) as im:
        assert im.mode == "RGBA"
        assert "icc_profile" not in im.info


def test_jpeg_exif_and_comment_are_gone(tmp_path: Path) -> None:
    original = _jpeg_with_exif()
    with Image.open(io.BytesIO(original)) as im:
        assert im.getexif()[0x010F] == "SpyCam Inc."  # the fixture really has EXIF
    asset = _validate(original, tmp_path, declared_name="photo.jpeg")
    assert (asset.mime, asset.ext, asset.name) == ("image/jpeg", "jpg", "photo.jpg")
    data = asset.path.read_bytes()
    assert b"SpyCam" not in data
    assert b"secret comment" not in data
    assert b"Exif" not in data
    with Image.open(asset.path) as im:
        assert dict(im.getexif()) == {}


def test_exif_orientation_is_applied_before_stripping(tmp_path: Path) -> None:
    asset = _validate(_jpeg_with_exif(size=(64, 32), orientation=6), tmp_path)
    assert (asset.width, asset.height) == (32, 64)


def test_webp_is_accepted(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "blue").save(buf, "WEBP")
    asset = _validate(buf.getvalue(), tmp_path)
    assert (asset.mime, asset.width, asset.height) == ("image/webp", 40, 20)


def test_chunk_iterators_are_accepted(tmp_path: Path) -> None:
    data = _png()
    chunks = iter([data[:10], data[10:50], data[50:]])
    assert _validate(chunks, tmp_path).width == 64


def test_decompression_bomb_is_rejected_before_decoding(tmp_path: Path) -> None:
    bomb = _png_declaring(100_000, 100_000)  # 10 GP; Pillow itself refuses at open
    assert len(bomb) < 2000
    assert _rejected(bomb, tmp_path).code == "asset.decompression_bomb"


def test_our_pixel_limit_is_stricter_than_pillows(tmp_path: Path) -> None:
    # 8000 x 6000 = 48 MP: under Pillow's default warning, over our 40 MP.
    error = _rejected(_png_declaring(8000, 6000), tmp_path)
    assert error.code == "asset.decompression_bomb"
    assert error.params["pixels"] == 48_000_000


def test_polyglot_jpeg_with_appended_zip_and_php_is_neutralised(tmp_path: Path) -> None:
    payload = b"PK\x03\x04" + b"\0" * 26 + b"<?php system($_GET['c']); ?><script>alert(1)</script>"
    asset = _validate(_jpeg_with_exif() + payload, tmp_path, declared_name="cat.php.jpg")
    data = asset.path.read_bytes()
    assert b"PK\x03\x04" not in data
    assert b"<?php" not in data
    assert b"<script" not in data
    assert data.endswith(b"\xff\xd9")  # a JPEG that ends where a JPEG ends
    assert asset.name == "cat.php.jpg"  # inert: served as image/jpeg by its stored ext


def test_polyglot_png_with_trailing_html_is_neutralised(tmp_path: Path) -> None:
    asset = _validate(_png() + b"<html><script>alert(1)</script></html>", tmp_path)
    data = asset.path.read_bytes()
    assert b"<script" not in data
    assert data.endswith(_chunk(b"IEND", b""))


def test_gifar_and_gif_are_not_allowed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    gifar = buf.getvalue() + b"PK\x03\x04" + b"\0" * 40
    error = _rejected(gifar, tmp_path, declared_name="avatar.gif")
    assert (error.code, error.params) == ("asset.type_not_allowed", {"detected": "gif"})


def test_animated_png_is_not_allowed(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    assert _rejected(buf.getvalue(), tmp_path).code == "asset.type_not_allowed"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, I am text pretending to be a PNG\n",
        b"<html><body>hi</body></html>",
        b"%PDF-1.7\n",
        b"PK\x03\x04" + b"\0" * 60,
    ],
)
def test_non_media_content_is_refused_whatever_its_name(tmp_path: Path, data: bytes) -> None:
    error = _rejected(data, tmp_path, declared_name="logo.png")
    assert (error.code, error.params) == ("asset.type_not_allowed", {"detected": "unknown"})


def test_truncated_png_is_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((200, 200), 64).convert("RGB").save(buf, "PNG")
    data = buf.getvalue()
    assert _rejected(data[: len(data) // 2], tmp_path).code == "asset.corrupt"


def test_empty_upload(tmp_path: Path) -> None:
    assert _rejected(b"", tmp_path).code == "asset.empty"


def test_size_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        for chunk in itertools.repeat(_png()[:8] + b"\0" * (64 * 1024 - 8)):
            consumed += 1
            yield chunk

    error = _rejected(endless(), tmp_path, max_bytes=1 * MB)
    assert (error.code, error.params) == ("asset.too_large", {"max_bytes": MB})
    assert consumed == 17  # 16 full chunks fit, the 17th crosses the limit: then stop


def test_size_limit_allows_exactly_max_bytes(tmp_path: Path) -> None:
    data = _png()
    work = tmp_path / "work"
    work.mkdir()
    assert _rejected(data, work, max_bytes=len(data) - 1).code == "asset.too_large"
    assert _validate(data, work, max_bytes=len(data)).width == 64


def test_kind_mismatch(tmp_path: Path, mp4_clip: Path) -> None:
    error = _rejected(_png(), tmp_path, kind=AssetKind.VIDEO)
    assert error.params == {"expected": "video", "detected": "image"}
    assert error.code == "asset.kind_mismatch"
    assert _rejected(mp4_clip.read_bytes(), tmp_path, kind="image").code == "asset.kind_mismatch"


def test_real_mp4_is_accepted_and_remuxed(tmp_path: Path, mp4_clip: Path) -> None:
    asset = _validate(mp4_clip.read_bytes(), tmp_path, kind="video", declared_name="intro.mov")
    assert (asset.kind, asset.mime, asset.ext, asset.name) == (
        AssetKind.VIDEO,
        "video/mp4",
        "mp4",
        "intro.mp4",
    )
    assert (asset.width, asset.height) == (160, 120)
    assert asset.duration == pytest.approx(1.0, abs=0.1)
    stored = probe(asset.path, timeout=10)
    assert [s.codec for s in stored.streams] == ["h264", "aac"]
    assert b"Lavf" in mp4_clip.read_bytes()
    assert b"Lavf" not in asset.path.read_bytes()  # encoder tag dropped with metadata


def test_webm_and_mkv_are_told_apart(tmp_path: Path) -> None:
    webm = make_video(tmp_path / "a.webm")
    mkv = make_video(tmp_path / "b.mkv")
    work = tmp_path / "work"
    work.mkdir()
    assert _validate(webm.read_bytes(), work, kind="video").mime == "video/webm"
    assert _validate(mkv.read_bytes(), work, kind="video").mime == "video/x-matroska"


def test_mp4_polyglot_payload_does_not_survive_the_remux(tmp_path: Path, mp4_clip: Path) -> None:
    data = mp4_clip.read_bytes() + b"PK\x03\x04<?php echo 1; ?>"
    asset = _validate(data, tmp_path, kind="video")
    assert b"<?php" not in asset.path.read_bytes()


def test_truncated_video_is_corrupt(tmp_path: Path) -> None:
    broken = make_corrupt(tmp_path / "src.mp4", mode="truncated").read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    assert _rejected(broken, work, kind="video").code == "asset.corrupt"


def test_truncated_faststart_video_is_corrupt(tmp_path: Path) -> None:
    # moov first, so probing succeeds; the missing packets are caught by the remux.
    clip = make_video(tmp_path / "src.mp4", seconds=2, faststart=True).read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    error = _rejected(clip[: len(clip) * 2 // 3], work, kind="video")
    assert error.code == "asset.corrupt"
    assert "src.mp4" not in str(error.params)
    assert ".upload-" not in str(error.params)


def test_audio_only_mp4_is_not_a_video_asset(tmp_path: Path) -> None:
    m4a = make_audio(tmp_path / "a.m4a")
    work = tmp_path / "work"
    work.mkdir()
    error = _rejected(m4a.read_bytes(), work, kind="video")
    assert error.code == "asset.type_not_allowed"
