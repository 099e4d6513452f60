"""A replay re-aired on a channel: the compiler places it, the guide lists it, PATCH moves it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from lxml import etree
from rest_framework.test import APIClient

from apps.channels.models import (
    BlockMode,
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.play.inputs import playlist_from
from apps.channels.replays.models import Replay
from apps.channels.replays.services import replay_delete
from apps.channels.services.playout import playout_inputs_changed_since, playout_rebuild
from apps.channels.tests.conftest import ClipLibrary, xmltv_dtd
from apps.channels.tests.factories import a_video
from apps.recordings.models import Recording
from workers.channels import rebuild_channel_playout
from workers.ffmpeg.probe import probe
from workers.ffmpeg.testing import make_video

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
TITLE = 'Cup final & <extra time> "live"'
DESCRIPTION = "Both halves — второй тайм, 決勝 & <b>penalties</b>"


@pytest.fixture(scope="module")
def match_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, float]:
    """A real recording: 150 s of generated video, its length as ffprobe reads it."""
    path = make_video(
        tmp_path_factory.mktemp("reair") / "match.mkv",
        seconds=150,
        size=(32, 18),
        rate=1,
        with_audio=False,
    )
    duration = probe(path).duration
    assert duration is not None and 149 < duration < 151
    return path.read_bytes(), duration


@pytest.fixture
def recording(match_file: tuple[bytes, float]) -> Recording:
    data, duration = match_file
    return a_video(
        title="Cup final", duration=duration, file=ContentFile(data, name="recordings/match.mkv")
    )


@pytest.fixture
def channel(clip_library: ClipLibrary) -> Channel:
    """Morning News flooding all day in Paris, one-minute bumpers as filler."""
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    bumpers = Playlist.objects.create(name="Bumpers")
    PlaylistItem.objects.create(
        playlist=bumpers, kind=ItemKind.MEDIA, media_item=clip_library["Filler/bumper.mp4"]
    )
    channel = Channel.objects.create(
        number=7, name="Sport", slug="sport", time_zone="Europe/Paris", filler_playlist=bumpers
    )
    ScheduleBlock.objects.create(
        channel=channel, playlist=news, start_time=time(0), mode=BlockMode.FLOOD
    )
    playout_rebuild(channel=channel, horizon=timedelta(days=3))
    return channel


def _tomorrow_at(hour: int, minute: int) -> datetime:
    day = timezone.now().astimezone(PARIS).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def _rebuilt(channel: Channel, callbacks: list[Any]) -> None:
    """What the worker does with the rebuild the write dispatched after its commit."""
    assert callbacks, "the write asked for a rebuild"
    rebuild_channel_playout(channel.pk)


def _guide(api: APIClient, channel: Channel) -> Any:
    response: Any = api.get(f"/api/v1/channels/{channel.pk}/epg.xml")
    assert response.status_code == 200
    tree = etree.fromstring(b"".join(response.streaming_content))
    dtd = xmltv_dtd()
    assert dtd.validate(tree), dtd.error_log.filter_from_errors()
    return tree


def _xmltv(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%Y%m%d%H%M%S %z")


def _reair_rows(channel: Channel) -> list[PlayoutRow]:
    return list(PlayoutRow.objects.filter(channel=channel, replay__isnull=False))


def _assert_seamless(channel: Channel) -> None:
    rows = list(PlayoutRow.objects.filter(channel=channel).order_by("start"))
    for before, after in pairwise(rows):
        assert before.end == after.start, (before, after)


def test_a_reair_becomes_a_row_and_a_guide_entry_at_the_local_time(
    operator_api: APIClient,
    channel: Channel,
    recording: Recording,
    django_capture_on_commit_callbacks: Any,
) -> None:
    at = _tomorrow_at(20, 30)
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_api.post(
            "/api/v1/replay",
            {"recording": recording.pk, "title": TITLE, "description": DESCRIPTION,
             "reair_channel": channel.pk, "reair_at": at.replace(tzinfo=None).isoformat()},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201, response.content
    # Given without an offset: the channel's wall clock; read back with its offset.
    assert response.json()["reair_at"] == at.isoformat()
    _rebuilt(channel, callbacks)

    [row] = _reair_rows(channel)
    assert row.start == at and row.end == at + timedelta(seconds=recording.duration)
    assert (row.title, row.description, row.filler, row.in_point) == (
        TITLE, DESCRIPTION, False, 0.0,
    )  # fmt: skip
    before = PlayoutRow.objects.get(channel=channel, end=row.start)
    after = PlayoutRow.objects.get(channel=channel, start=row.end)
    # The news item that did not fit before it is filler; the flood goes on after it.
    assert before.filler and not after.filler and after.media_item_id is not None
    _assert_seamless(channel)
    listed = operator_api.get(
        f"/api/v1/channels/{channel.pk}/playout",
        {"start": (at - timedelta(minutes=1)).isoformat(), "hours": "1"},
    ).json()
    assert [r["replay"] for r in listed if r["replay"]] == [response.json()["id"]]

    tree = _guide(operator_api, channel)
    [programme] = tree.xpath("//programme[title=$t]", t=TITLE)
    assert programme.get("start") == _xmltv(at) and programme.get("start").endswith("+0100")
    assert programme.findtext("desc") == DESCRIPTION
    previous = programme.getprevious()
    assert previous.get("stop") == programme.get("start")

    # The engine plays the recording's file from its start at that instant.
    rows = list(
        PlayoutRow.objects.filter(channel=channel, end__gt=at - timedelta(seconds=30))
        .select_related("media_item__source", "replay__recording")
        .order_by("start")[:3]
    )
    played = playlist_from(rows, at - timedelta(seconds=30), black=lambda: "/black.mkv")
    index = played.paths.index(recording.file.path)
    assert played.inpoints[index] is None
    assert played.outpoints[index] == pytest.approx(recording.duration)


def test_a_reair_moved_past_the_calendar_is_refused(
    operator_api: Any, channel: Channel, recording: Recording
) -> None:
    body = {"recording": recording.pk, "reair_channel": channel.pk,
            "reair_at": _tomorrow_at(12, 0).isoformat()}  # fmt: skip
    replay = operator_api.post("/api/v1/replay", body, format="json").json()
    response = operator_api.patch(
        f"/api/v1/replay/{replay['id']}", {"reair_at": "9999-12-31T23:00:00+00:00"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.out_of_range"
    assert Replay.objects.get(pk=replay["id"]).reair_at == _tomorrow_at(12, 0)


def test_a_rebuild_keeps_the_reair_and_patch_moves_it(
    operator_api: APIClient,
    channel: Channel,
    recording: Recording,
    django_capture_on_commit_callbacks: Any,
) -> None:
    at = _tomorrow_at(20, 30)
    with django_capture_on_commit_callbacks() as callbacks:
        body = operator_api.post(
            "/api/v1/replay",
            {"recording": recording.pk, "reair_channel": channel.pk, "reair_at": at.isoformat()},
            format="json",
        ).json()
    _rebuilt(channel, callbacks)
    # Any rebuild (a schedule change, the periodic refresh) deletes the future rows and
    # compiles them again: the re-air is one of its inputs, so it is placed again.
    playout_rebuild(channel=channel, horizon=timedelta(days=3))
    assert [r.start for r in _reair_rows(channel)] == [at]

    later = _tomorrow_at(22, 0)
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_api.patch(
            f"/api/v1/replay/{body['id']}",
            {"reair_at": later.astimezone(UTC).isoformat(), "title": "Final, again"},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["reair_at"] == later.isoformat()
    _rebuilt(channel, callbacks)
    [row] = _reair_rows(channel)
    assert (row.start, row.title) == (later, "Final, again")
    assert not PlayoutRow.objects.filter(channel=channel, start=at, replay__isnull=False)
    _assert_seamless(channel)
    starts = _guide(operator_api, channel).xpath("//programme[title='Final, again']/@start")
    assert starts == [_xmltv(later)]

    other = Channel.objects.create(number=8, name="Other", slug="other", time_zone="Asia/Tokyo")
    with django_capture_on_commit_callbacks() as callbacks:
        moved = operator_api.patch(
            f"/api/v1/replay/{body['id']}", {"reair_channel": other.pk}, format="json"
        )
    assert moved.status_code == 200 and moved.json()["reair_at"].endswith("+09:00")
    for target in (channel, other):
        rebuild_channel_playout(target.pk)
    assert not _reair_rows(channel) and [r.start for r in _reair_rows(other)] == [later]

    with django_capture_on_commit_callbacks() as callbacks:
        cleared = operator_api.patch(
            f"/api/v1/replay/{body['id']}", {"reair_channel": None}, format="json"
        )
    assert cleared.json()["reair_at"] is None and cleared.json()["reair_channel"] is None
    _rebuilt(other, callbacks)
    assert not _reair_rows(other)


def test_deleting_the_replay_takes_its_reair_off_the_playout(
    operator_user: Any, channel: Channel, recording: Recording
) -> None:
    at = _tomorrow_at(9, 15)
    replay = Replay.objects.create(
        recording=recording, title="R", reair_channel=channel, reair_at=at
    )
    playout_rebuild(channel=channel, horizon=timedelta(days=3))
    assert [r.start for r in _reair_rows(channel)] == [at]
    compiled = Channel.objects.get(pk=channel.pk).playout_compiled_at
    assert compiled is not None
    replay.delete()  # as the recording's deletion cascades: no service runs
    # The row still to air lost its replay: the periodic refresh rebuilds.
    assert playout_inputs_changed_since(channel, compiled)
    playout_rebuild(channel=channel, horizon=timedelta(days=3))
    assert (
        not PlayoutRow.objects.filter(channel=channel, start=at)
        .exclude(filler=True)
        .filter(media_item__isnull=True)
    )
    _assert_seamless(channel)

    again = Replay.objects.create(
        recording=a_video(duration=recording.duration), title="S", reair_channel=channel,
        reair_at=at,
    )  # fmt: skip
    playout_rebuild(channel=channel, horizon=timedelta(days=3))
    assert len(_reair_rows(channel)) == 1
    replay_delete(actor=operator_user, replay=again)
    rebuild_channel_playout(channel.pk)
    assert not _reair_rows(channel)


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"reair_at": "2020-01-01T10:00:00"}, 400, "replay.reair_in_past", "reair_at"),
        ({"reair_at": None}, 400, "replay.reair_incomplete", "reair_at"),
        ({"reair_channel": None}, 400, "replay.reair_incomplete", "reair_channel"),
        ({"reair_channel": 999999}, 400, "validation.does_not_exist", "reair_channel"),
        ({"reair_at": "tomorrow"}, 400, "validation.invalid", "reair_at"),
        # Python's datetime ends in 9999: an hour more (the re-air's end) overflowed (500).
        ({"reair_at": "9999-12-31T23:00:00"}, 400, "validation.out_of_range", "reair_at"),
        ({"reair_at": "9999-12-31T23:00:00Z"}, 400, "validation.out_of_range", "reair_at"),
    ],
)
def test_a_bad_reair_is_refused_and_nothing_is_written(
    operator_api: APIClient,
    channel: Channel,
    recording: Recording,
    fields: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    body = {"recording": recording.pk, "reair_channel": channel.pk,
            "reair_at": _tomorrow_at(12, 0).isoformat(), **fields}  # fmt: skip
    response = operator_api.post("/api/v1/replay", body, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == (code, field)
    assert not Replay.objects.exists()


def test_two_reairs_may_not_overlap_on_a_channel(
    operator_api: APIClient, channel: Channel, recording: Recording
) -> None:
    at = _tomorrow_at(12, 0)
    first = operator_api.post(
        "/api/v1/replay",
        {"recording": recording.pk, "reair_channel": channel.pk, "reair_at": at.isoformat()},
        format="json",
    )
    assert first.status_code == 201
    second = a_video(duration=60.0)
    overlapping = (at + timedelta(seconds=100)).isoformat()
    response = operator_api.post(
        "/api/v1/replay",
        {"recording": second.pk, "reair_channel": channel.pk, "reair_at": overlapping},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "replay.reair_overlaps"
    assert response.json()["error"]["params"]["replay"] == first.json()["id"]
    after = (at + timedelta(seconds=recording.duration)).isoformat()  # back to back is fine
    response = operator_api.post(
        "/api/v1/replay",
        {"recording": second.pk, "reair_channel": channel.pk, "reair_at": after},
        format="json",
    )
    assert response.status_code == 201, response.content
