"""Validate uploaded assets (logos, overlays, thumbnails, slates, intro and
outro clips) by their content, never by their name.

Pipeline: stream to a temp file while counting bytes -> magic bytes ->
full decode (Pillow with one forced format and a pixel limit; ffprobe for
video) -> write a NEW file produced by our own encoder/muxer.

Policy decisions:
- Polyglots are neutralised, not detected: the stored file is always the
  re-encoded image or the remuxed video, never the uploaded bytes, so an
  appended ZIP/HTML/PHP payload (or anything else after the image data, in
  metadata or in trailing boxes) does not survive. Tests assert it.
- GIF is not accepted: PNG and WebP cover still images with transparency,
  re-encoding would drop animation anyway, and GIF is the classic GIFAR
  carrier. Animated PNG/WebP are refused for the same reason.
- Image metadata (EXIF, XMP, ICC, text chunks, comments) is dropped; EXIF
  orientation is applied first, and an ICC profile is converted to sRGB
  first, so the picture looks the same without them.
- Video is remuxed (`-c copy`, no re-encode) keeping the first video and
  first audio stream, with global metadata and chapters dropped.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageCms, ImageOps

from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.probe import (
    LOCAL_PROTOCOLS,
    ProbeError,
    ProbeErrorCode,
    ProbeResult,
    ffmpeg_input,
    probe,
    run_bounded,
)

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: above any sane logo or 8K frame (33 MP)


class AssetKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class AssetRejected(Exception):
    """An upload that is not accepted; `code` and `params` form the 4xx envelope."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


@dataclass(frozen=True, slots=True)
class ValidatedAsset:
    kind: AssetKind
    mime: str
    ext: str
    width: int
    height: int
    duration: float | None  # seconds, video only
    sha256: str  # of the sanitized file at `path`
    size: int  # bytes of the sanitized file
    path: Path  # sanitized file; the caller moves it into storage or deletes it
    name: str  # safe display name: the declared stem + the extension of the content


# label -> (kind, mime, Pillow format or ffmpeg muxer)
_ALLOWED: dict[str, tuple[AssetKind, str, str]] = {
    "png": (AssetKind.IMAGE, "image/png", "PNG"),
    "jpeg": (AssetKind.IMAGE, "image/jpeg", "JPEG"),
    "webp": (AssetKind.IMAGE, "image/webp", "WEBP"),
    "mp4": (AssetKind.VIDEO, "video/mp4", "mp4"),
    "mov": (AssetKind.VIDEO, "video/quicktime", "mov"),
    "mkv": (AssetKind.VIDEO, "video/x-matroska", "matroska"),
    "webm": (AssetKind.VIDEO, "video/webm", "webm"),
}
_EXT = {"jpeg": "jpg"}
_HEIF_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1"}


def sniff(head: bytes) -> str | None:
    """Name the type from its first bytes ('png', 'gif', 'mp4', ...) or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        return "mov" if brand == b"qt  " else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header names its DocType within the first few dozen bytes.
        return "webm" if b"webm" in head[:64] else "mkv"
    return None


def safe_name(declared_name: str, ext: str) -> str:
    """A display/file name: last path component, printable, no leading dots,
    and the extension of what the content really is."""
    base = re.split(r"[\\/]", declared_name or "")[-1]
    stem = os.path.splitext(unicodedata.normalize("NFC", base))[0]
    stem = "".join(ch for ch in stem if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    stem = stem.strip(" .")[:100] or "asset"
    return f"{stem}.{ext}"


def _chunks(stream: IO[bytes] | Iterable[bytes] | bytes) -> Iterable[bytes]:
    if isinstance(stream, bytes | bytearray | memoryview):
        yield bytes(stream)
        return
    read = getattr(stream, "read", None)
    if read is not None:
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    yield from stream


def _spool(stream: IO[bytes] | Iterable[bytes] | bytes, fd: int, max_bytes: int) -> int:
    """Copy to fd, failing as soon as the count passes max_bytes: the rest of
    an oversize upload is never read."""
    total = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in _chunks(stream):
            total += len(chunk)
            if total > max_bytes:
                raise AssetRejected("asset.too_large", max_bytes=max_bytes)
            out.write(chunk)
    return total


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _to_srgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, src, dst, outputMode=out_mode)
        return converted if converted is not None else im
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im  # a broken profile is dropped; colours stay as encoded


def _image(spool: Path, label: str, out: Path, max_pixels: int) -> tuple[int, int]:
    fmt = _ALLOWED[label][2]
    try:
        # formats=[fmt]: Pillow may only use the decoder the magic bytes
        # chose, never guess another plugin (EPS, PSD, ...) for these bytes.
        with Image.open(spool, formats=[fmt]) as im:
            width, height = im.size
            # Checked on the header, before a single pixel is decoded.
            if width * height > max_pixels:
                raise AssetRejected(
                    "asset.decompression_bomb", pixels=width * height, max_pixels=max_pixels
                )
            if getattr(im, "n_frames", 1) > 1:
                raise AssetRejected("asset.type_not_allowed", detected=f"animated {label}")
            im.verify()  # structure and checksums; the object is unusable after
        with Image.open(spool, formats=[fmt]) as opened:
            opened.load()  # full decode: truncated or broken data fails here
            picture = _to_srgb(ImageOps.exif_transpose(opened) or opened)
            alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
            if fmt == "JPEG":
                mode = "L" if picture.mode == "L" else "RGB"
            else:
                mode = "RGBA" if alpha else ("L" if picture.mode == "L" else "RGB")
            pixels = picture.convert(mode)
            # frombytes builds an image with an empty .info: nothing of the
            # upload's metadata can be carried into save().
            clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
            options: dict[str, Any] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
            clean.save(out, format=fmt, **options)
            return clean.size
    except AssetRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AssetRejected("asset.decompression_bomb", detail=str(exc)) from None
    except Exception as exc:  # Pillow raises many types for malformed input
        raise AssetRejected("asset.corrupt", detail=f"{type(exc).__name__}: {exc}") from None


def _video(spool: Path, label: str, out: Path, max_pixels: int, timeout: float) -> ProbeResult:
    demuxer = "matroska" if label in ("mkv", "webm") else "mov"
    try:
        info = probe(spool, timeout=timeout, protocols=LOCAL_PROTOCOLS, formats=(demuxer,))
    except ProbeError as exc:
        if exc.code == ProbeErrorCode.FORMAT_NOT_ALLOWED:
            raise AssetRejected("asset.type_not_allowed", detected=label) from None
        raise AssetRejected("asset.corrupt", detail=exc.code) from None
    if not info.video_streams:
        raise AssetRejected("asset.type_not_allowed", detected=f"{label} without video")
    v = info.video_streams[0]
    if (v.width or 0) * (v.height or 0) > max_pixels:
        raise AssetRejected("asset.decompression_bomb", pixels=(v.width or 0) * (v.height or 0))
    muxer = _ALLOWED[label][2]
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-xerror"]
    argv += ["-protocol_whitelist", "file", "-format_whitelist", demuxer]
    argv += ["-i", ffmpeg_input(spool), "-map", "0:V:0", "-map", "0:a:0?", "-c", "copy"]
    argv += ["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    argv += ["-f", muxer, "-y", "file:" + str(out)]
    try:
        # The upload and the clean copy (made empty by mkstemp) only: confine.py.
        confinement = Confinement(read=(str(spool),), write=(str(out),))
        rc, _, err = run_bounded(argv, timeout=timeout, confinement=confinement)
    except TimeoutError:
        raise AssetRejected("asset.corrupt", detail="probe.timeout") from None
    # The temp path means nothing to the uploader and should not leak.
    stderr = err.decode("utf-8", "replace").strip().replace(ffmpeg_input(spool), "<upload>")
    # -v error prints only errors: any of them means damaged packets.
    if rc != 0 or stderr:
        raise AssetRejected("asset.corrupt", detail=stderr[-300:] or f"exit {rc}")
    try:
        return probe(out, timeout=timeout, formats=(demuxer,))
    except ProbeError as exc:
        raise AssetRejected("asset.corrupt", detail=exc.code) from None


def validate_asset(
    stream: IO[bytes] | Iterable[bytes] | bytes,
    *,
    declared_name: str,
    kind: AssetKind | str,
    max_bytes: int,
    workdir: str | os.PathLike[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    timeout: float = 60.0,
) -> ValidatedAsset:
    """Validate an upload and write its sanitized version under `workdir`.

    `stream` is a binary file object, an iterable of byte chunks (Django's
    `UploadedFile.chunks()`) or bytes. `declared_name` is only used for the
    display name. Raises AssetRejected; on rejection nothing is left behind.
    """
    wanted = AssetKind(kind)
    directory = Path(workdir) if workdir is not None else Path(tempfile.gettempdir())
    fd, spool_name = tempfile.mkstemp(prefix=".upload-", dir=directory)
    spool = Path(spool_name)
    out: Path | None = None
    try:
        if _spool(stream, fd, max_bytes) == 0:
            raise AssetRejected("asset.empty")
        with spool.open("rb") as fh:
            head = fh.read(64)
        label = sniff(head)
        if label not in _ALLOWED:
            raise AssetRejected("asset.type_not_allowed", detected=label or "unknown")
        detected_kind, mime, _ = _ALLOWED[label]
        if detected_kind is not wanted:
            raise AssetRejected(
                "asset.kind_mismatch", expected=wanted.value, detected=detected_kind.value
            )
        ext = _EXT.get(label, label)
        out_fd, out_name = tempfile.mkstemp(prefix="asset-", suffix=f".{ext}", dir=directory)
        os.close(out_fd)
        out = Path(out_name)
        duration: float | None = None
        if detected_kind is AssetKind.IMAGE:
            width, height = _image(spool, label, out, max_pixels)
        else:
            info = _video(spool, label, out, max_pixels, timeout)
            video = info.video_streams[0]
            width, height, duration = video.width or 0, video.height or 0, info.duration
        result = ValidatedAsset(
            kind=detected_kind,
            mime=mime,
            ext=ext,
            width=width,
            height=height,
            duration=duration,
            sha256=_sha256(out),
            size=out.stat().st_size,
            path=out,
            name=safe_name(declared_name, ext),
        )
        out = None  # handed to the caller
        return result
    finally:
        spool.unlink(missing_ok=True)
        if out is not None:
            out.unlink(missing_ok=True)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "AssetKind",
    "AssetRejected",
    "ValidatedAsset",
    "safe_name",
    "sniff",
    "validate_asset",
]
