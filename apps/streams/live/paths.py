"""Where a live stream's files are: one place, for the transcode and whoever serves them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

from apps.streams.live.models import LiveStream


def live_root() -> Path:
    """The folder of every live stream's HLS; managed (no job output may point into it)."""
    return Path(settings.VAR_DIR) / "live"


def hls_dir(stream: LiveStream | int) -> Path:
    """The HLS folder of a live stream: its master playlist `index.m3u8`, and one sub-folder
    per variant (`<variant name>/index.m3u8` and its segments).

    By id, not slug: a renamed stream keeps its folder, and a slug never becomes a path.
    """
    stream_id = stream if isinstance(stream, int) else stream.pk
    return live_root() / str(int(stream_id))


def clear_hls_dir(stream: LiveStream | int) -> None:
    """Remove a stream's HLS files, for a publish session that starts clean: the next
    transcode then starts its playlists at sequence 0 instead of continuing them."""
    folder = hls_dir(stream)
    if os.path.isdir(folder):
        shutil.rmtree(folder, ignore_errors=True)
