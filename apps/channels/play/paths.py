"""Where a channel's HLS is written and served from."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

PLAYLIST = "index.m3u8"


def channels_root() -> Path:
    # Under VAR_DIR/outputs, an output root stream jobs may write to by default.
    return Path(settings.VAR_DIR) / "outputs" / "channels"


def hls_dir(channel_id: int) -> Path:
    # By id, not slug: a renamed channel keeps its playlist and segment numbering.
    return channels_root() / str(channel_id)
