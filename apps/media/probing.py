"""Probe media items wherever they live, and turn outcomes into item columns.

Shared by the scan (many files) and POST /media/{id}/probe (one file).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from apps.media.models import StorageSource
from apps.media.scanner import FileEntry, ProbeOutcome
from apps.media.storage.base import MediaLocation, StorageError
from workers.ffmpeg.probe import ProbeError, ProbeErrorCode, ProbeResult, probe

# ffprobe echoes its input in errors; a presigned URL is a credential until it expires.
_URL_QUERY = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*")


def redact_detail(detail: str, root: str | None = None) -> str:
    """An error detail fit for the API: no URL signatures, paths relative to the source."""
    text = _URL_QUERY.sub(r"\1?••••", detail)
    if root:
        text = text.replace(root.rstrip("/") + "/", "")
    return text[-500:]


def locate(source: StorageSource, relpath: str) -> MediaLocation:
    """What ffmpeg/ffprobe should open for relpath; raises StorageError."""
    return source.backend().open_for_ffmpeg(relpath)


def probe_location(location: MediaLocation, *, timeout: float) -> ProbeResult:
    protocols = tuple(p for p in location.protocol_whitelist.split(",") if p)
    return probe(location.url_or_path, timeout=timeout, protocols=protocols)


def probe_remote_one(source_backend: Any, relpath: str, timeout: float) -> ProbeOutcome:
    """Probe one file of a remote (S3) source; never raises."""
    try:
        return probe_location(source_backend.open_for_ffmpeg(relpath), timeout=timeout)
    except ProbeError as exc:
        return exc
    except StorageError as exc:
        return ProbeError(exc.code, exc.detail)
    except Exception as exc:  # one bad object must never stop the scan
        return ProbeError(ProbeErrorCode.FAILED, type(exc).__name__)


def outcome_fields(outcome: ProbeOutcome, *, root: str | None = None) -> dict[str, Any]:
    """Item columns for a probe result or error (every probe column is set)."""
    if isinstance(outcome, ProbeError):
        return {
            "probe": None,
            "probe_error_code": outcome.code[:64],
            "probe_error_detail": redact_detail(outcome.detail, root),
            "container": "",
            "duration": None,
            "bitrate": None,
            "video_codec": "",
            "width": None,
            "height": None,
            "frame_rate": None,
            "audio_codec": "",
        }
    video = outcome.video_streams[0] if outcome.video_streams else None
    audio = outcome.audio_streams[0] if outcome.audio_streams else None
    return {
        "probe": outcome.to_dict(),
        "probe_error_code": "",
        "probe_error_detail": "",
        "container": outcome.container[:100],
        "duration": outcome.duration,
        "bitrate": outcome.bitrate,
        "video_codec": ((video.codec or "") if video else "")[:32],
        "width": video.width if video else None,
        "height": video.height if video else None,
        "frame_rate": video.frame_rate if video else None,
        "audio_codec": ((audio.codec or "") if audio else "")[:32],
    }


def item_update(
    entry: FileEntry, outcome: ProbeOutcome, now: datetime, root: str | None
) -> dict[str, Any]:
    """The full UPDATE for an item that was just probed."""
    return {
        **outcome_fields(outcome, root=root),
        "size": entry.size,
        "mtime_ns": entry.mtime_ns,
        "missing": False,
        "missing_since": None,
        "probed_at": now,
        "updated_at": now,
    }
