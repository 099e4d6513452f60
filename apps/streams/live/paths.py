"""Where a live stream's HLS files are on disk (the transcode writes, delivery reads)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from apps.streams.live.models import LiveStream


def hls_dir(stream: LiveStream) -> Path:
    """The folder of the master playlist `index.m3u8` and one sub-folder per variant.

    Under MEDIA_ROOT, so X-Accel-Redirect (castcore/files.py) can hand segments to
    nginx; named by id, so renaming the slug moves nothing.
    """
    return Path(settings.MEDIA_ROOT) / "live" / str(stream.pk)
