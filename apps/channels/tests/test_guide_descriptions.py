"""Guide descriptions come from the media's own tags, as the scan probed them; categories
and episode numbers from its path. Checked against xmltv.dtd with hostile text."""

from __future__ import annotations

import subprocess
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from apps.channels.models import (
    BlockMode,
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.conftest import xmltv_dtd
from apps.media.models import MediaItem
from apps.media.scanning import media_scan_run, media_scan_start
from apps.media.tests.factories import make_source
from workers.ffmpeg.testing import make_video

pytestmark = pytest.mark.django_db

HOSTILE_DESCRIPTION = "Tom & \"Jerry\" <script>alert('x')</script>\x07 — 東京の夜 ]]> &amp;"
EPISODE = "Night Show/Season 2/Night Show - S02E07 - Finale.mkv"
FILM = "Films/Plain Film.mkv"


def _tagged(path: Path, seconds: float, **tags: str) -> None:
    """A generated clip carrying container tags, as a tagger (or ffmpeg) writes them."""
    raw = make_video(path.with_suffix(".raw.mkv"), seconds=seconds, size=(32, 18), rate=1,
                     with_audio=False)  # fmt: skip
    metadata = [arg for name, value in tags.items() for arg in ("-metadata", f"{name}={value}")]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-c", "copy", *metadata, str(path)],
        check=True,
    )
    raw.unlink()


@pytest.fixture
def channel(tmp_path: Path) -> Channel:
    root = tmp_path / "library"
    (root / EPISODE).parent.mkdir(parents=True)
    (root / FILM).parent.mkdir(parents=True)
    _tagged(root / EPISODE, 120, DESCRIPTION=HOSTILE_DESCRIPTION, genre="Comedy")
    _tagged(root / FILM, 90, comment="Read from the comment tag")
    source = make_source(name="Tagged", path=str(root))
    media_scan_run(scan_id=media_scan_start(source=source, dispatch=False).pk)
    playlist = Playlist.objects.create(name="Tagged")
    PlaylistItem.objects.create(playlist=playlist, kind=ItemKind.SOURCE, source=source)
    channel = Channel.objects.create(number=3, name="Tags", slug="tags", time_zone="Asia/Tokyo")
    ScheduleBlock.objects.create(
        channel=channel, playlist=playlist, start_time=time(0), mode=BlockMode.FLOOD
    )
    playout_rebuild(channel=channel, horizon=timedelta(hours=6))
    return channel


def test_descriptions_categories_and_episodes_validate_against_the_dtd(
    operator_api: Any, channel: Channel
) -> None:
    episode = MediaItem.objects.get(relpath=EPISODE)
    probed: Any = episode.probe
    assert probed["tags"]["description"] == HOSTILE_DESCRIPTION  # the key lowercased
    assert probed["tags"]["genre"] == "Comedy"
    assert "encoder" not in probed["tags"]  # only what the guide reads is kept
    rows = PlayoutRow.objects.filter(channel=channel, media_item=episode)
    assert rows and rows[0].description == HOSTILE_DESCRIPTION

    response = operator_api.get(f"/api/v1/channels/{channel.pk}/epg.xml")
    body = b"".join(response.streaming_content)
    tree = etree.fromstring(body)
    dtd = xmltv_dtd()
    assert dtd.validate(tree), dtd.error_log.filter_from_errors()

    show = tree.xpath("//programme[title='Night Show']")[0]
    # Escaped, the control character gone, the text otherwise intact.
    assert show.findtext("desc") == HOSTILE_DESCRIPTION.replace("\x07", "")
    assert show.findtext("sub-title") == "Finale"
    assert show.findtext("category") == "Night Show"
    numbers = {e.get("system"): e.text for e in show.findall("episode-num")}
    assert numbers == {"xmltv_ns": "1.6.", "onscreen": "S02E07"}
    assert [child.tag for child in show] == [
        "title", "sub-title", "desc", "category", "episode-num", "episode-num",
    ]  # fmt: skip
    film = tree.xpath("//programme[title='Plain Film']")[0]
    assert film.findtext("desc") == "Read from the comment tag"
    assert film.findtext("category") == "Films" and film.find("episode-num") is None
    assert b"<script>" not in body and b"\x07" not in body
