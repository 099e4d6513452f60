"""The concat list a channel's ffmpeg starts with: from the row on the air, at its offset;
gaps and rows with nothing to play air black, so the schedule's times hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.channels.models import PlayoutRow
from apps.channels.play.inputs import playlist_from
from apps.channels.tests.play_helpers import playing_channel
from apps.media.tests.factories import make_item, make_source
from workers.ffmpeg.spec import SpecError

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BLACK = "/slates/black.mp4"


@pytest.fixture
def rows(tmp_path: Path, settings: Any) -> list[PlayoutRow]:
    settings.VAR_DIR = tmp_path
    (tmp_path / "lib").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "lib" / name).write_bytes(b"x")
    source = make_source(path=str(tmp_path / "lib"))
    a, b = (make_item(source=source, relpath=name, duration=600.0) for name in ("a.mp4", "b.mp4"))
    channel = playing_channel()

    def row(start: float, end: float, item: Any, in_point: float = 0.0) -> PlayoutRow:
        return PlayoutRow.objects.create(
            channel=channel, start=T0 + timedelta(seconds=start), end=T0 + timedelta(seconds=end),
            media_item=item, in_point=in_point,
        )  # fmt: skip

    # a (from 100 s in), black filler, a hole of 5 s, then b.
    return [row(0, 60, a, 100.0), row(60, 80, None), row(85, 100, b)]


def test_it_starts_on_the_row_on_the_air_at_its_offset(rows: list[PlayoutRow]) -> None:
    playlist = playlist_from(rows, T0 + timedelta(seconds=12.5), black=lambda: BLACK)
    assert Path(playlist.paths[0]).name == "a.mp4"
    assert (playlist.inpoints[0], playlist.outpoints[0]) == (112.5, 160.0)


def test_black_rows_and_holes_air_black_and_keep_the_times(rows: list[PlayoutRow]) -> None:
    playlist = playlist_from(rows, T0 + timedelta(seconds=30), black=lambda: BLACK)
    names = [Path(path).name for path in playlist.paths]
    assert names == ["a.mp4", *["black.mp4"] * 4, "b.mp4"]
    parts = [playlist.part_s(index) for index in range(len(names))]
    # 30 s of a, 20 s of black in cuts of at most 9.5 s, the 5 s hole, then b's 15 s.
    assert parts == pytest.approx([30.0, 9.5, 9.5, 1.0, 5.0, 15.0])
    assert playlist.length_s == pytest.approx(70.0)


def test_the_last_instant_of_a_row_is_skipped(rows: list[PlayoutRow]) -> None:
    playlist = playlist_from(rows, T0 + timedelta(seconds=59.99), black=lambda: BLACK)
    assert Path(playlist.paths[0]).name == "black.mp4"


def test_nothing_scheduled_is_a_spec_error(rows: list[PlayoutRow]) -> None:
    with pytest.raises(SpecError) as refused:
        playlist_from([], T0, black=lambda: BLACK)
    assert refused.value.code == "channel.nothing_to_play"
