"""A slate filler airs its image, looped as a clip with real ffmpeg, not black."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play.inputs import channel_input
from apps.channels.play.services import channel_start
from apps.channels.tests.play_helpers import playing_channel
from apps.media.models import Asset, AssetKindChoice
from apps.streams.models import StreamJob

pytestmark = pytest.mark.django_db


def _white_png(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "color=c=white:s=64x36", "-frames:v", "1", f"file:{path}"],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def _mean_luma(clip: str, at: float) -> float:
    """signalstats' YAVG of the frame at `at` seconds (16 is black, 235 white)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-f", "lavfi",
         "-i", f"movie={clip}:seek_point={at},signalstats",
         "-read_intervals", "%+#1", "-show_entries", "frame_tags=lavfi.signalstats.YAVG",
         "-of", "csv=p=0"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return float(out.stdout.split()[0])


def test_a_slate_filler_airs_its_image_not_black(tmp_path: Path, settings: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    png = _white_png(tmp_path / "slate.png")
    slate = Asset.objects.create(
        kind=AssetKindChoice.SLATE, name="Back soon", file=ContentFile(png, name="slate.png"),
        mime="image/png", width=64, height=36, sha256="0" * 64, size=len(png),
    )  # fmt: skip
    channel = playing_channel(filler_asset=slate)
    now = timezone.now()
    PlayoutRow.objects.create(
        channel=channel, start=now - timedelta(minutes=1), end=now + timedelta(minutes=2),
        asset=slate, filler=True, title="Back soon",
    )  # fmt: skip
    job = StreamJob.objects.get(pk=channel_start(actor=None, channel=channel).job_id)

    playlist = channel_input(job, resolve=True)

    clips = set(playlist.paths)
    assert len(clips) == 1, "every cut of the slate row is the one slate clip"
    (clip,) = clips
    assert Path(clip).name.startswith("slate-")
    assert _mean_luma(clip, 5.0) > 200  # white, where black was ~16
    # Made once: the next start reuses it.
    assert set(channel_input(job, resolve=True).paths) == clips
