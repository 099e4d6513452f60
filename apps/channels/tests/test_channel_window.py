"""The window a channel's ffmpeg is given: whole rows, ending at an item boundary, recorded
on the player with a timeline offset from its epoch and a hand-over asked for its end; and
where a rebuild's rows part from the ones the window has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play import conf
from apps.channels.play.inputs import channel_window
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import channel_start, first_difference
from apps.channels.tests.play_helpers import playing_channel
from apps.media.tests.factories import make_item, make_source
from apps.streams.models import StreamJob

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_first_difference_is_where_the_rows_part() -> None:
    def row(start: float, end: float, item: int) -> tuple[Any, ...]:
        return (_at(start), _at(end), item, None, None, 0.0, False)  # as services._AIRED

    a, b, c = row(0, 10, 1), row(10, 20, 2), row(20, 30, 3)
    changed_b = row(10, 20, 4)
    assert first_difference([a, b, c], [a, b, c]) is None
    assert first_difference([a, b, c], [a, changed_b, c]) == _at(10)
    assert first_difference([a, b], [a, b, c]) == _at(20)  # a row more: from its start
    assert first_difference([a, b, c], [a, b]) == _at(20)  # a row fewer: from the gone one's
    shifted_b = row(12, 20, 2)
    assert first_difference([a, b], [a, shifted_b]) == _at(10)  # the earlier of the two


def test_a_window_takes_whole_rows_and_is_recorded_on_the_player(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setattr(conf, "WINDOW_SECONDS", 100)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.mp4").write_bytes(b"x")
    item = make_item(source=make_source(path=str(tmp_path / "lib")), relpath="a.mp4",
                     duration=600.0)  # fmt: skip
    channel = playing_channel()
    now = timezone.now()
    # 80 s rows: the window of 100 s ends within the second one, which it takes whole.
    for index in range(4):
        PlayoutRow.objects.create(
            channel=channel, media_item=item,
            start=now + timedelta(seconds=80 * index - 5),
            end=now + timedelta(seconds=80 * index + 75),
        )  # fmt: skip
    player = channel_start(actor=None, channel=channel)
    ChannelPlayer.objects.filter(pk=player.pk).update(epoch=now - timedelta(seconds=1000))

    unrecorded = channel_window(player.job, resolve=True)
    assert ChannelPlayer.objects.get(pk=player.pk).window_end is None  # a check, not a run
    assert StreamJob.objects.get(pk=player.job_id).respawn_at is None
    window = channel_window(player.job, resolve=True, record=True)
    recorded = ChannelPlayer.objects.get(pk=player.pk)
    assert window.end == recorded.window_end == now + timedelta(seconds=155)  # a row's end
    assert recorded.window_start == window.start
    # The next ffmpeg is to take over as it ends, its start lead early (a hand-over).
    lead = timedelta(seconds=conf.START_LEAD_SECONDS)
    assert StreamJob.objects.get(pk=player.job_id).respawn_at == window.end - lead
    assert len(window.input.paths) == len(unrecorded.input.paths) == 2
    # Its first frame's timestamp: the seconds from the epoch to the instant it joins.
    expected = (window.start - (now - timedelta(seconds=1000))).total_seconds()
    assert window.ts_offset_s == pytest.approx(expected)
    assert window.ts_offset_s >= 1000 + conf.START_LEAD_SECONDS
