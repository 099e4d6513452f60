"""A generated media library for the channels tests: clips of known length, scanned for real.

Durations come from the media library's own scan (ffprobe), as in production.
Clips are tiny (32x18 at 1 fps, no audio) so minutes of media encode in a blink.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from apps.channels import feeds
from apps.channels.models import Channel
from apps.media.models import MediaItem, StorageSource
from apps.media.scanning import media_scan_run, media_scan_start
from apps.media.tests.factories import make_source
from workers.ffmpeg.testing import make_video

#: relpath → seconds. Episodes follow the Show/SxxEyy convention the guide reads.
CLIPS: dict[str, float] = {
    "Morning News/Morning News - S01E01 - Opening.mp4": 300.0,
    "Morning News/Morning News - S01E02 - Weather.mp4": 420.0,
    "Morning News/Morning News - S01E03 - Sport.mp4": 600.0,
    'Films/Tom & Jerry <Special> "Quoted".mp4': 1200.0,
    "Films/Пёс и кот.mp4": 900.0,
    "Filler/bumper.mp4": 60.0,
}


@dataclass(frozen=True)
class ClipLibrary:
    source: StorageSource
    items: dict[str, MediaItem]

    def __getitem__(self, relpath: str) -> MediaItem:
        return self.items[relpath]


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("channel-clips") / "library"
    for relpath, seconds in CLIPS.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        make_video(root / relpath, seconds=seconds, size=(32, 18), rate=1, with_audio=False)
    return root


@pytest.fixture
def clip_library(clips_dir: Path, tmp_path: Path, db: None) -> ClipLibrary:
    root = tmp_path / "library"
    shutil.copytree(clips_dir, root)
    source = make_source(name="Clips", path=str(root))
    scan = media_scan_start(source=source, dispatch=False)
    media_scan_run(scan_id=scan.pk)
    items = {item.relpath: item for item in MediaItem.objects.filter(source=source)}
    assert set(items) == set(CLIPS), "the scan found every clip"
    return ClipLibrary(source=source, items=items)


#: Debian's xmltv-util ships the DTD IPTV guides are checked against.
XMLTV_DTD = Path("/usr/share/xmltv/xmltv.dtd")


def xmltv_dtd() -> etree.DTD:
    """xmltv.dtd, or the test is skipped where xmltv-util is not installed."""
    if not XMLTV_DTD.exists():
        pytest.skip("xmltv-util is not installed (apt-get install xmltv-util)")
    return etree.DTD(str(XMLTV_DTD))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many channels each guide rendering took (the real renderer runs; calls are counted)."""
    calls: list[int] = []
    real = feeds._render

    def counted(channels: list[Any], *args: Any) -> dict[int, str]:
        calls.append(len(channels))
        return real(channels, *args)

    monkeypatch.setattr(feeds, "_render", counted)
    return calls


def fragment_keys(channel: Channel, at: datetime | None = None) -> list[str]:
    """The cache keys of the channel's programmes in the guide's window at `at` (default
    now), found without rendering them; none when it has no rows there."""
    listed = feeds.guide_channels(None, [channel])
    _, keys = feeds._keyed(listed, *feeds.guide_window(at))
    return list(keys.values())
