"""The window a channel's ffmpeg is given: whole rows, ending at an item boundary, recorded
on the player with a timeline offset from its epoch and a hand-over asked for its end; and
where a rebuild's rows part from the ones the window has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play import conf
from apps.channels.play.inputs import channel_window
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import (
    channel_start,
    channel_window_follow,
    first_difference,
    playing_window,
)
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


def test_a_rebuild_between_a_respawn_and_the_next_window_does_not_cut_that_window(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker answers a respawn (clears respawn_at) before it builds the next ffmpeg's
    window; a rebuild committed in between asks for its change point, but the window read
    after it has the new rows already: its own hand-over is what stays asked for."""
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setattr(conf, "WINDOW_SECONDS", 100)
    (tmp_path / "lib").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "lib" / name).write_bytes(b"x")
    source = make_source(path=str(tmp_path / "lib"))
    a = make_item(source=source, relpath="a.mp4", duration=600.0)
    b = make_item(source=source, relpath="b.mp4", duration=600.0)
    channel = playing_channel()
    now = timezone.now()
    rows = [
        PlayoutRow.objects.create(
            channel=channel,
            media_item=a,
            start=now + timedelta(seconds=80 * index - 5),
            end=now + timedelta(seconds=80 * index + 75),
        )
        for index in range(4)
    ]
    player = channel_start(actor=None, channel=channel)
    first = channel_window(player.job, resolve=True, record=True)  # the running ffmpeg's
    # It is replaced (a respawn that fell due): the worker answers the request ...
    StreamJob.objects.filter(pk=player.job_id).update(respawn_at=None)
    # ... and a rebuild commits before the next window is read: the second row changes.
    with transaction.atomic():
        window = playing_window(channel=channel, since=now)
        assert window is not None and window.until == first.end
        PlayoutRow.objects.filter(pk=rows[1].pk).update(media_item=b)
        at = channel_window_follow(window=window)
    assert at == rows[1].start
    assert StreamJob.objects.get(pk=player.job_id).respawn_at is not None  # the rebuild's ask
    second = channel_window(player.job, resolve=True, record=True)  # the new ffmpeg's
    assert b.relpath in " ".join(second.input.paths)  # it plays the rebuilt rows ...
    assert second.end is not None
    lead = timedelta(seconds=conf.START_LEAD_SECONDS)
    # ... so nothing replaces it before its own window's end.
    assert StreamJob.objects.get(pk=player.job_id).respawn_at == second.end - lead


def test_a_window_too_short_to_hand_over_withdraws_an_earlier_request(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setattr(conf, "WINDOW_SECONDS", 1)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.mp4").write_bytes(b"x")
    item = make_item(source=make_source(path=str(tmp_path / "lib")), relpath="a.mp4",
                     duration=600.0)  # fmt: skip
    channel = playing_channel()
    now = timezone.now()
    PlayoutRow.objects.create(channel=channel, media_item=item, start=now - timedelta(seconds=5),
                              end=now + timedelta(seconds=4))  # fmt: skip
    player = channel_start(actor=None, channel=channel)
    StreamJob.objects.filter(pk=player.job_id).update(respawn_at=now + timedelta(seconds=2))
    channel_window(player.job, resolve=True, record=True)
    assert StreamJob.objects.get(pk=player.job_id).respawn_at is None
